//! Writes the seed inputs (fixture hives packed with their logs, see `hive_fuzz::SEEDS`)
//! into a corpus folder. The fixtures stay outside the repository; so do the seeds.
//!
//! usage: seed_corpus FIXTURES_DIR OUT_DIR

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [fixtures, out] = args.as_slice() else {
        eprintln!("usage: seed_corpus FIXTURES_DIR OUT_DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("{out}: {e}"));
    let seeds = hive_fuzz::seeds(std::path::Path::new(fixtures));
    for (name, data) in &seeds {
        let path = std::path::Path::new(out).join(format!("seed-{name}"));
        std::fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    eprintln!("{} seeds written to {out}", seeds.len());
}
