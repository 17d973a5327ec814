//! Test support for admu's crates: a throw-away NTFS volume mounted with ntfs-3g (the
//! offline test bed), and the rule for when tests that need root or FUSE may skip.
//!
//! ```no_run
//! # #[cfg(target_os = "linux")] {
//! // In a test: skip with a visible reason off CI, fail on CI when the bed is missing.
//! let Some(mut vol) = testbed::NtfsImage::for_test("my_test") else { return };
//! std::fs::write(vol.path().join("file.txt"), b"hello").unwrap();
//! vol.remount().unwrap(); // unmount, mount again: what was written is on the image
//! # }
//! ```
//! The image lives in a temporary directory; dropping the [`NtfsImage`] unmounts it and
//! deletes it, also when the test panics.

#[cfg(target_os = "linux")]
mod ntfs;
#[cfg(target_os = "linux")]
pub use ntfs::{NtfsImage, ntfssecaudit_clean, ntfssecaudit_tree, read_ntfs_acl, write_ntfs_acl};

/// True when running under CI (`CI=true`), where tests must not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a skipped test. Off CI this prints the reason and lets the test return; on
/// CI it fails the test, because CI has everything every test needs.
pub fn skip(test: &str, reason: &str) {
    assert!(
        !in_ci(),
        "{test}: cannot run on CI: {reason} (CI=true forbids skipping)"
    );
    eprintln!("SKIPPED {test}: {reason}");
}

/// The folder of the shared real-hive fixtures (`../shared/fixtures` beside the repo).
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// A fixture file, or `None` (after a visible skip) when the fixtures are missing.
pub fn fixture(test: &str, relative: &str) -> Option<std::path::PathBuf> {
    let path = fixtures_dir().join(relative);
    if path.is_file() {
        Some(path)
    } else {
        skip(test, &format!("fixture {} not found", path.display()));
        None
    }
}

/// Finds an external oracle program: first in the Python oracle venv that
/// `scripts/setup.sh` builds (`ADMU_ORACLES_VENV` or `target/oracles`), then on PATH.
pub fn oracle(program: &str) -> Option<std::path::PathBuf> {
    let venv = std::env::var_os("ADMU_ORACLES_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/oracles")
        });
    let in_venv = venv.join("bin").join(program);
    if in_venv.is_file() {
        return Some(in_venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Like [`oracle`], but skips (or fails on CI) when the program is missing.
pub fn require_oracle(test: &str, program: &str) -> Option<std::path::PathBuf> {
    if cfg!(not(unix)) {
        eprintln!("{test}: oracle `{program}` runs in the Linux suite");
        return None;
    }
    let found = oracle(program);
    if found.is_none() {
        skip(
            test,
            &format!("oracle `{program}` not installed (run scripts/setup.sh)"),
        );
    }
    found
}

/// A Python interpreter that can import all of `modules` (the oracle venv first, then
/// Debian's `/usr/bin/python3`), or `None` after a visible skip.
pub fn python_with(test: &str, modules: &[&str]) -> Option<std::path::PathBuf> {
    if cfg!(not(unix)) {
        // The oracles are Linux programs; the Windows suite (under Wine) checks the
        // rest of such tests, and the Linux suite of the same run checks the oracles.
        eprintln!(
            "{test}: oracle checks ({}) run in the Linux suite",
            modules.join(", ")
        );
        return None;
    }
    let import = format!("import {}", modules.join(", "));
    let candidates = [oracle("python3"), Some("/usr/bin/python3".into())];
    for python in candidates.into_iter().flatten() {
        let ok = std::process::Command::new(&python)
            .args(["-c", &import])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    skip(
        test,
        &format!(
            "no Python with `{}` (run scripts/setup.sh)",
            modules.join(", ")
        ),
    );
    None
}

/// The repository's root (for scripts under `tools/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `tools/oracles/hive_dump.py LIB FILE` (LIB is `hivex` or `regipy`) with the
/// given Python and returns its JSON listing; a tool that cannot read the file fails the
/// test with the tool's own message.
#[allow(
    clippy::panic,
    reason = "test support: an oracle's refusal must fail the test"
)]
pub fn hive_dump(python: &std::path::Path, lib: &str, file: &std::path::Path) -> serde_json::Value {
    let script = repo_root().join("tools/oracles/hive_dump.py");
    let out = match std::process::Command::new(python)
        .arg(script)
        .arg(lib)
        .arg(file)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("cannot run {}: {e}", python.display()),
    };
    assert!(
        out.status.success(),
        "{lib} could not read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => panic!("{lib} printed no JSON for {}: {e}", file.display()),
    }
}
