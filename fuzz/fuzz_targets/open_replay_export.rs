//! libFuzzer target: one input = a primary hive, optionally followed by a LOG1 (see
//! `hive_fuzz::split`). Opens it (replaying the log when the primary is dirty), walks and
//! exports everything, checks it, edits it and saves the result in memory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hive_fuzz::run(data);
});
