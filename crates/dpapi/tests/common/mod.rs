//! Shared test support: hex, temporary files, and impacket's `dpapi.py` as the
//! independent reader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// impacket's example script and a Python that can import impacket.
pub struct Impacket {
    pub python: PathBuf,
    pub dpapi_py: PathBuf,
}

/// The oracle, or `None` after a visible skip (a failure on CI).
pub fn impacket(test: &str) -> Option<Impacket> {
    let python = testbed::python_with(test, &["impacket"])?;
    let dpapi_py = testbed::require_oracle(test, "dpapi.py")?;
    Some(Impacket { python, dpapi_py })
}

impl Impacket {
    /// Runs `dpapi.py ARGS`; returns stdout + stderr.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(&self.dpapi_py)
            .args(args)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The key `dpapi.py masterkey …` prints after "Decrypted key: 0x", if any.
    pub fn masterkey(&self, args: &[&str]) -> (Option<Vec<u8>>, String) {
        let mut full = vec!["masterkey"];
        full.extend_from_slice(args);
        let text = self.run(&full);
        let key = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Decrypted key: 0x"))
            .map(hex);
        (key, text)
    }

    /// `dpapi.py masterkey -file F -sid S -password P`.
    pub fn masterkey_with_password(
        &self,
        file: &Path,
        sid: &str,
        password: &str,
    ) -> (Option<Vec<u8>>, String) {
        self.masterkey(&[
            "-file",
            file.to_str().unwrap(),
            "-sid",
            sid,
            "-password",
            password,
        ])
    }

    /// `dpapi.py unprotect -file F -key 0x…`: the hexdump of the plaintext, as bytes.
    pub fn unprotect(
        &self,
        file: &Path,
        key: &[u8],
        entropy: Option<&str>,
    ) -> (Option<Vec<u8>>, String) {
        let key = format!("0x{}", to_hex(key));
        let mut args = vec!["unprotect", "-file", file.to_str().unwrap(), "-key", &key];
        if let Some(e) = entropy {
            args.extend(["-entropy", e]);
        }
        let text = self.run(&args);
        if !text.contains("Successfully decrypted data") {
            return (None, text);
        }
        (Some(parse_hexdump(&text)), text)
    }
}

/// The bytes of impacket's `hexdump` lines (`0000   41 42 …   AB…`).
pub fn parse_hexdump(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some(offset) = line.get(..4) else {
            continue;
        };
        if !offset.chars().all(|c| c.is_ascii_hexdigit()) || line.get(4..7) != Some("   ") {
            continue;
        }
        // The hex area is 49 columns wide: 16 bytes, an extra space after the eighth.
        let area: String = line.chars().skip(7).take(49).collect();
        for tok in area.split_whitespace() {
            out.push(u8::from_str_radix(tok, 16).unwrap());
        }
    }
    out
}

/// A file with `bytes` in a temporary directory.
pub fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
