//! A small, deterministic mutation fuzzer for stable Rust: damages the seed inputs
//! (fixture hives with their logs) where their structure is and runs the fuzz target on
//! each mutant. Iteration `i` depends only on `--seed` and `i`, so `--only i` replays it.
//! Panicking inputs are written to `--artifacts` (one per panic location).
//!
//! usage: mutate --fixtures DIR [--seed N] [--iterations N] [--seconds N]
//!               [--artifacts DIR] [--only I]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hive_fuzz::{Rng, map, mutate, seeds};

fn main() {
    let mut fixtures = PathBuf::from("../../shared/fixtures");
    let mut seed = 1u64;
    let mut iterations = u64::MAX;
    let mut seconds = u64::MAX;
    let mut artifacts = PathBuf::from("artifacts/mutate");
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--fixtures" => fixtures = value().into(),
            "--seed" => seed = value().parse().unwrap_or_else(|e| panic!("--seed: {e}")),
            "--iterations" => iterations = value().parse().unwrap_or_else(|e| panic!("{e}")),
            "--seconds" => seconds = value().parse().unwrap_or_else(|e| panic!("{e}")),
            "--artifacts" => artifacts = value().into(),
            "--only" => only = Some(value().parse::<u64>().unwrap_or_else(|e| panic!("{e}"))),
            other => panic!("unknown argument {other}"),
        }
    }
    let inputs = seeds(&fixtures);
    assert!(!inputs.is_empty(), "no seeds under {}", fixtures.display());
    let maps: Vec<_> = inputs.iter().map(|(_, d)| map(d)).collect();

    // Remember where each panic happened, to keep one artifact per location.
    let location: Arc<Mutex<String>> = Arc::default();
    {
        let location = Arc::clone(&location);
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if let Ok(mut l) = location.lock() {
                *l = at;
            }
            default(info);
        }));
    }

    let started = Instant::now();
    let limit = Duration::from_secs(seconds);
    let mut found: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    let mut done = 0u64;
    let mut per_seed = vec![0u64; inputs.len()];
    let range: Box<dyn Iterator<Item = u64>> = match only {
        Some(i) => Box::new(i..=i),
        None => Box::new(0..iterations),
    };
    for i in range {
        if only.is_none() && started.elapsed() > limit {
            break;
        }
        let mut rng = Rng(seed ^ i.wrapping_mul(0xD134_2543_DE82_EF95));
        let which = rng.below(inputs.len());
        let (name, input) = &inputs[which];
        let mutant = mutate(input, &maps[which], &mut rng);
        per_seed[which] += 1;
        if std::panic::catch_unwind(|| hive_fuzz::run(&mutant)).is_err() {
            let at = location.lock().map(|l| l.clone()).unwrap_or_default();
            let entry = found.entry(at.clone()).or_insert((i, 0));
            entry.1 += 1;
            if entry.1 == 1 {
                std::fs::create_dir_all(&artifacts).ok();
                let file = artifacts.join(format!("crash-{seed}-{i}-{name}"));
                std::fs::write(&file, &mutant).ok();
                eprintln!(
                    "iteration {i} ({name}): panic at {at}; input saved to {}",
                    file.display()
                );
            }
        }
        done += 1;
        if done.is_multiple_of(5000) {
            eprintln!(
                "{done} executions, {:.0}/s, {} distinct panics",
                done as f64 / started.elapsed().as_secs_f64(),
                found.len()
            );
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "seed {seed}: {done} executions in {elapsed:.1?} ({:.0}/s); per seed file: {}",
        done as f64 / elapsed.as_secs_f64(),
        inputs
            .iter()
            .zip(&per_seed)
            .map(|((n, _), c)| format!("{n}={c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (at, (first, count)) in &found {
        eprintln!("panic at {at}: {count} times, first at iteration {first}");
    }
    if !found.is_empty() {
        std::process::exit(1);
    }
}
