//! `cargo bench -p hive`: open, walk, export, translate and save a generated 20,000-key
//! hive (the same generator as the `gen_large_hive` example, about 6 MB). Set
//! `HIVE_BENCH_KEYS` for another size.
//!
//! The end-to-end comparison with hivex and regipy on a 500,000-key hive is
//! `bench/hive.sh` at the workspace root.

use std::hint::black_box;
use std::io;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hive::Hive;
use hive::export::{ExportOptions, Format, RegEncoding};

#[path = "../examples/hivegen/mod.rs"]
#[allow(dead_code)] // the example uses parts of it that the benchmark does not
mod hivegen;

fn keys() -> usize {
    std::env::var("HIVE_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn export_to_sink(hive: &Hive, format: Format) -> hive::Result<()> {
    let options = ExportOptions {
        format,
        prefix: r"HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001".into(),
        encoding: RegEncoding::Utf8,
    };
    let root = hive.root()?;
    hive::export::export(hive, root, "", &options, &mut io::sink())
}

/// Visits every key and value and reads every value's data.
fn full_walk(hive: &Hive) -> hive::Result<(u64, u64, u64)> {
    let (mut keys, mut values, mut bytes) = (0u64, 0u64, 0u64);
    let root = hive.root()?;
    hive::export::walk(hive, root, "", &mut |key, path| {
        keys += 1;
        bytes += path.len() as u64;
        for v in key.values()? {
            values += 1;
            bytes += v.data()?.len() as u64;
        }
        Ok(())
    })?;
    Ok((keys, values, bytes))
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("NTUSER.DAT");
    let config = hivegen::Config {
        keys: keys(),
        seed: 1,
    };
    let (mut generated, stats) = hivegen::generate(config).expect("the generator works");
    generated.save_as(&path).expect("the generated hive saves");
    let size = std::fs::metadata(&path).expect("the saved hive").len();
    eprintln!(
        "bench hive: {} keys, {} values, {:.1} MiB at {}",
        stats.keys,
        stats.values,
        size as f64 / 1048576.0,
        path.display()
    );
    let hive = Hive::open(&path).expect("the generated hive opens");
    let map = ntsec::SidMap::from_pairs([format!("{}={}", hivegen::USER_SID, hivegen::NEW_SID)])
        .expect("a valid SID map");

    let mut g = c.benchmark_group("hive");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(size));
    g.bench_function("open", |b| {
        b.iter(|| Hive::open(black_box(&path)).expect("opens"))
    });
    g.bench_function("walk", |b| {
        b.iter(|| full_walk(black_box(&hive)).expect("walks"))
    });
    g.bench_function("check", |b| b.iter(|| black_box(&hive).check()));
    g.bench_function("export_reg", |b| {
        b.iter(|| export_to_sink(black_box(&hive), Format::Reg).expect("exports"))
    });
    g.bench_function("export_json", |b| {
        b.iter(|| export_to_sink(black_box(&hive), Format::Json).expect("exports"))
    });
    // translate_sids mutates the hive: each iteration gets a fresh copy (not timed).
    g.bench_function("translate_sids", |b| {
        b.iter_batched(
            || hive.clone(),
            |mut h| {
                let report = h
                    .translate_sids(&map, ntsec::Mode::Replace)
                    .expect("translates");
                black_box(report);
                h
            },
            BatchSize::LargeInput,
        )
    });
    let out = dir.path().join("saved.dat");
    let mut copy = hive.clone();
    g.bench_function("save_as", |b| {
        b.iter(|| copy.save_as(black_box(&out)).expect("saves"))
    });
    g.finish();
    check_round_trip(&out);
}

/// The saved copy still opens: the benchmark measured real work.
fn check_round_trip(path: &Path) {
    let reopened = Hive::open(path).expect("the saved hive reopens");
    assert!(reopened.check().is_ok(), "the saved hive checks clean");
}

criterion_group!(hive_benches, benches);
criterion_main!(hive_benches);
