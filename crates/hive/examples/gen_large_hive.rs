//! Generates a large, realistic-looking user hive for benchmarks.
//!
//! ```text
//! cargo run --release -p hive --example gen_large_hive -- OUT [--keys N] [--seed S] [--check]
//! ```
//!
//! Defaults: 500,000 keys, seed 1 (about 150 MB). The descriptors name the user
//! `S-1-5-21-1004336348-1177238915-682003330-1001`; translate it with
//! `admu hive translate OUT --map S-1-5-21-1004336348-1177238915-682003330-1001=S-1-5-21-3623811015-3361044348-30300820-1013`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod hivegen;

fn usage() -> ExitCode {
    eprintln!("usage: gen_large_hive OUT [--keys N] [--seed S] [--check]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut out: Option<PathBuf> = None;
    let mut config = hivegen::Config {
        keys: 500_000,
        seed: 1,
    };
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--keys" | "--seed" => {
                let Some(n) = args
                    .next()
                    .and_then(|v| v.replace('_', "").parse::<u64>().ok())
                else {
                    return usage();
                };
                if arg == "--keys" {
                    config.keys = n as usize;
                } else {
                    config.seed = n;
                }
            }
            "--check" => check = true,
            "-h" | "--help" => return usage(),
            _ if out.is_none() && !arg.starts_with('-') => out = Some(PathBuf::from(arg)),
            _ => return usage(),
        }
    }
    let Some(out) = out else {
        return usage();
    };

    let start = Instant::now();
    let (mut hive, stats) = match hivegen::generate(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gen_large_hive: generating failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let built = start.elapsed();
    let sk_cells = hive.security_cells().map(|c| c.len()).unwrap_or(0);
    let saved_at = Instant::now();
    let report = match hive.save_as(&out) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gen_large_hive: cannot write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
    };
    let saved = saved_at.elapsed();
    println!(
        "{}: {} bytes ({:.1} MiB), {} keys, {} values ({} over 16 KiB, {:.1} MiB of data), \
         {} sk cells ({} subtree descriptors), depth {}, max fan-out {}",
        out.display(),
        report.bytes,
        report.bytes as f64 / 1048576.0,
        stats.keys,
        stats.values,
        stats.big_values,
        stats.data_bytes as f64 / 1048576.0,
        sk_cells,
        stats.security_switches,
        stats.max_depth,
        stats.max_fanout,
    );
    println!(
        "built in {:.2} s ({:.1} µs/key), saved in {:.2} s",
        built.as_secs_f64(),
        built.as_secs_f64() * 1e6 / stats.keys.max(1) as f64,
        saved.as_secs_f64()
    );
    println!(
        "translate with: --map {}={}",
        hivegen::USER_SID,
        hivegen::NEW_SID
    );
    if check {
        let at = Instant::now();
        let report = hive.check();
        println!(
            "check: {} keys, {} values, {} sk cells, {} errors, {} warnings ({:.2} s)",
            report.keys,
            report.values,
            report.security_cells,
            report.errors(),
            report.findings.len() - report.errors(),
            at.elapsed().as_secs_f64()
        );
        for f in report.findings.iter().take(10) {
            println!("  {:?} at {:#x}: {}", f.severity, f.offset, f.message);
        }
        if !report.is_ok() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
