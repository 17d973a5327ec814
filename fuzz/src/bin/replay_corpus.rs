//! Feeds every file of the given files or folders to the fuzz target, in name order
//! (a libFuzzer corpus, crash artifacts, or seeds from `seed_corpus`). A panic names the
//! file and fails the run.
//!
//! usage: replay_corpus PATH...

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in std::env::args_os().skip(1) {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path);
        }
    }
    if files.is_empty() {
        eprintln!("usage: replay_corpus PATH...");
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut failed = 0;
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let t = Instant::now();
        let r = std::panic::catch_unwind(|| hive_fuzz::run(&data));
        if r.is_err() {
            eprintln!("FAILED: {}", file.display());
            failed += 1;
        } else if t.elapsed().as_secs_f64() > 1.0 {
            eprintln!("slow: {} took {:?}", file.display(), t.elapsed());
        }
    }
    eprintln!(
        "{} inputs, {failed} failed, {:?}",
        files.len(),
        started.elapsed()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
