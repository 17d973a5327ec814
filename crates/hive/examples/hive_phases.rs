//! Times each phase of what `admu hive export` and `admu hive translate` do, on one
//! hive, to see where the time goes (bench/hive.sh prints it after the comparison).
//!
//! ```text
//! cargo run --release -p hive --example hive_phases -- FILE [OUT_DIR] [--runs N]
//! ```
//!
//! Each phase runs N times (default 3) and the best time is printed. `save_as` writes
//! (and fsyncs) `OUT_DIR/phases.dat`, by default in FILE's directory. `--only WORD`
//! runs only the phases whose name contains WORD (after opening), e.g. to profile one
//! with `perf record`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hive::Hive;
use hive::export::{ExportOptions, Format, RegEncoding};

/// The SIDs the generator uses (see examples/hivegen).
const MAP: &str =
    "S-1-5-21-1004336348-1177238915-682003330-1001=S-1-5-21-3623811015-3361044348-30300820-1013";

fn best<T>(runs: usize, f: &mut dyn FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

/// A sink that counts bytes (so the export's formatting is timed, not a disk).
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn export(hive: &Hive, format: Format, encoding: RegEncoding) -> u64 {
    let options = ExportOptions {
        format,
        prefix: r"HKEY_LOCAL_MACHINE\NTUSER.DAT".into(),
        encoding,
    };
    let mut sink = Count(0);
    let root = hive.root().expect("a root key");
    hive::export::export(hive, root, "", &options, &mut sink).expect("exports");
    sink.0
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut out_dir = None;
    let mut runs = 3;
    let mut only = String::new();
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
        } else if a == "--only" {
            only = args.next().unwrap_or_default();
        } else if file.is_none() {
            file = Some(PathBuf::from(a));
        } else {
            out_dir = Some(PathBuf::from(a));
        }
    }
    let Some(file) = file else {
        eprintln!("usage: hive_phases FILE [OUT_DIR] [--runs N] [--only WORD]");
        return ExitCode::from(2);
    };
    let out_dir = out_dir.unwrap_or_else(|| {
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    });
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let map = ntsec::SidMap::from_pairs([MAP]).expect("a valid map");

    let mut rows: Vec<(String, Duration, String)> = Vec::new();
    let wanted = |name: &str| only.is_empty() || name.contains(only.as_str());
    let mut phase = |name: &str, runs: usize, f: &mut dyn FnMut() -> String| {
        if wanted(name) {
            let (t, note) = best(runs, &mut *f);
            rows.push((name.to_string(), t, note));
        }
    };
    phase("read file (std::fs::read)", runs, &mut || {
        std::fs::read(&file).expect("reads");
        String::new()
    });
    phase("Hive::open", runs, &mut || {
        Hive::open(&file).expect("opens");
        String::new()
    });
    let hive = Hive::open(&file).expect("opens");
    phase("walk (keys and value lists)", runs, &mut || {
        let mut n = 0u64;
        let root = hive.root().expect("a root key");
        hive::export::walk(&hive, root, "", &mut |key, _| {
            n += 1 + key.values()?.len() as u64;
            Ok(())
        })
        .expect("walks");
        format!("{n} keys+values")
    });
    phase("export .reg UTF-8 to a sink", runs, &mut || {
        format!("{} bytes", export(&hive, Format::Reg, RegEncoding::Utf8))
    });
    phase("export .reg UTF-16 (what -o writes)", runs, &mut || {
        format!("{} bytes", export(&hive, Format::Reg, RegEncoding::Utf16))
    });
    phase("export JSON to a sink", runs, &mut || {
        format!("{} bytes", export(&hive, Format::Json, RegEncoding::Utf8))
    });
    phase("check", runs, &mut || {
        let r = hive.check();
        format!("{} errors", r.errors())
    });
    phase("clone (memcpy of the hive)", runs, &mut || {
        drop(hive.clone());
        String::new()
    });
    let mut translated = hive.clone();
    phase("translate_sids", 1, &mut || {
        let r = translated
            .translate_sids(&map, ntsec::Mode::Replace)
            .expect("translates");
        format!("{} cells, {} keys", r.cells_changed, r.keys_affected)
    });
    let out = out_dir.join("phases.dat");
    phase("save_as (write, fsync, rename)", runs, &mut || {
        translated.save_as(&out).expect("saves");
        String::new()
    });
    let _ = std::fs::remove_file(&out);
    let bytes = translated.as_bytes().to_vec();
    let plain = out_dir.join("phases-plain.dat");
    phase("std::fs::write, no fsync", runs, &mut || {
        std::fs::write(&plain, &bytes).expect("writes");
        String::new()
    });
    let _ = std::fs::remove_file(&plain);

    println!(
        "{} ({:.1} MiB), best of {runs}:",
        file.display(),
        size as f64 / 1048576.0
    );
    for (what, t, note) in rows {
        println!("  {what:<38} {:>9.3} s  {note}", t.as_secs_f64());
    }
    ExitCode::SUCCESS
}
