//! Power loss and killed processes, on the NTFS test bed (a sample volume made by
//! `admu sample create` on an ntfs-3g mount), driving the real binary:
//!
//! - `admu recover` SIGKILLed at random moments, again and again, then run to the end,
//!   and `admu recover` aborted after each of its own journal records (`ADMU_FAILPOINT`
//!   counts the records of the journal it appends to): the volume comes back exactly;
//! - `admu revert` aborted after each of its journal records: a second `revert` refuses
//!   and says to run `recover`, which finishes the revert exactly;
//! - a power cut as the volume sees it: the ntfs-3g daemon itself is SIGKILLed at a random
//!   moment of `admu migrate` (what it had not written to the image is lost), the image is
//!   mounted again with a fresh ntfs-3g, and `admu recover` (or, when the migration had
//!   committed, `admu revert`) gives back exactly the volume as it was.
//!
//! Random moments come from a small deterministic generator whose seed every test
//! prints; `ADMU_POWER_LOSS_SEED=N` replays a run.
#![cfg(test)]
#![cfg(target_os = "linux")]

mod common;
use common::*;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

// ---------------------------------------------------------------------------------------
// Random moments, reproducibly
// ---------------------------------------------------------------------------------------

/// The default seed; `ADMU_POWER_LOSS_SEED` overrides it.
const DEFAULT_SEED: u64 = 0x00AD_0011;

fn seed() -> u64 {
    std::env::var("ADMU_POWER_LOSS_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// SplitMix64: small, deterministic, good enough to place kills.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` moments spread over `span`: one uniformly inside each n-th of it, shuffled.
    fn spread(&mut self, n: usize, span: Duration) -> Vec<Duration> {
        let mut v: Vec<Duration> = (0..n)
            .map(|i| span.mul_f64((i as f64 + self.unit()) / n as f64))
            .collect();
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    }
}

const SIGKILL: i32 = 9;

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------------------
// Processes killed at a moment
// ---------------------------------------------------------------------------------------

/// `admu ARGS` started in the background, set up as `admu_with` sets it up.
fn spawn_admu(args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_admu"));
    cmd.args(args)
        .env(PASSWORD_VAR, PASSWORD)
        .env_remove("ADMU_FAILPOINT")
        .env_remove("ADMU_TEST_CORRUPT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start admu")
}

/// Waits for `child` for at most `limit`, SIGKILLing it then. True when it had to be
/// killed.
fn wait_at_most(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("poll admu").is_some() {
            return false;
        }
        if Instant::now() >= deadline {
            child.kill().expect("SIGKILL admu");
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How a run that was killed at a moment ended.
struct Killed {
    output: Output,
    /// It had exited on its own before the kill.
    finished_first: bool,
}

/// SIGKILLs `child` `delay` after it started (at `started`), unless it exited before.
fn kill_at(mut child: Child, started: Instant, delay: Duration) -> Killed {
    let mut finished_first = false;
    loop {
        if child.try_wait().expect("poll admu").is_some() {
            finished_first = true;
            break;
        }
        let now = started.elapsed();
        if now >= delay {
            break;
        }
        std::thread::sleep((delay - now).min(Duration::from_millis(2)));
    }
    if !finished_first {
        child.kill().expect("SIGKILL admu");
    }
    let output = child.wait_with_output().expect("wait for admu");
    // It may also have exited between the last look and the kill.
    let finished_first = finished_first || output.status.signal() != Some(SIGKILL);
    Killed {
        output,
        finished_first,
    }
}

// ---------------------------------------------------------------------------------------
// Journals as a crash leaves them
// ---------------------------------------------------------------------------------------

/// The journal's complete records: whole lines that parse, up to the first that does
/// not (a torn or lost tail is what a crash may leave). Empty when there is no file.
fn durable_records(dir: &Path) -> Vec<Json> {
    let Ok(bytes) = std::fs::read(dir.join("journal.jsonl")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let Some(body) = line.strip_suffix(b"\n") else {
            break;
        };
        match serde_json::from_slice::<Json>(body) {
            Ok(r) => out.push(r),
            Err(_) => break,
        }
    }
    out
}

fn phase(r: Option<&Json>) -> &str {
    r.and_then(|r| r["phase"].as_str()).unwrap_or("none")
}

/// The journal ends with the undo of `kind` finished, and the backups are gone.
#[track_caller]
fn assert_undone(dir: &Path, kind: &str, label: &str) {
    let records = journal_records(dir);
    let last = records.last();
    assert_eq!(
        last.map(|r| (&r["phase"], &r["kind"])),
        Some((&Json::from("undo_end"), &Json::from(kind))),
        "{label}: the journal does not end with a finished {kind}: last record {last:?}"
    );
    assert!(
        !dir.join("backup").exists(),
        "{label}: {} is still there after the {kind} finished",
        dir.join("backup").display()
    );
}

fn says(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `migrate` with a failpoint after its `at`-th record, checks that it aborted
/// there, and remounts (what is on the image, not in ntfs-3g's caches of the dead
/// process's writes). Returns the journal.
fn crash_migration(bed: &mut Bed, migrate: &[String], at: usize, label: &str) -> PathBuf {
    let known = journal_dirs(bed.path());
    let out = admu_with(&strs(migrate), &[("ADMU_FAILPOINT", &at.to_string())]);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{label}: migrate with failpoint {at} did not abort: {}",
        shown(&out)
    );
    let dir = new_journal(bed.path(), &known);
    assert_eq!(journal_records(&dir).len(), at, "{label}: journal records");
    bed.remount();
    dir
}

// ---------------------------------------------------------------------------------------
// recover, killed
// ---------------------------------------------------------------------------------------

/// Recovers started and SIGKILLed at a random moment (unless they finish first).
const RECOVER_KILLS: usize = 24;

#[test]
fn recover_killed_at_random_moments_still_restores_the_volume() {
    let test = "recover_killed_at_random_moments_still_restores_the_volume";
    let Some(mut bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let started = Instant::now();
    let seed = seed();
    let mut rng = Rng(seed);
    eprintln!("{test}: seed {seed} (ADMU_POWER_LOSS_SEED={seed} replays it)");
    let root = bed.r().to_string();
    let recover = ["recover", "--root", root.as_str()];
    let before = bed.snapshot();
    let migrate = bed.migrate_args("alice", &[]);

    // One complete run: its journal names the crash point (the last step's done record,
    // so that a rollback undoes every step), and it is reverted.
    let known = journal_dirs(bed.path());
    expect_ok(admu(&strs(&migrate)), "complete migrate");
    let records = journal_records(&new_journal(bed.path(), &known));
    let at = 1 + records
        .iter()
        .rposition(|r| r["phase"] == "done")
        .expect("a done record");
    assert_eq!(
        phase(records.get(at)),
        "commit",
        "the last done precedes the commit"
    );
    let point = point_name(&records[at - 1]);
    expect_ok(
        admu(&["revert", "--root", &root, "--name", "alice"]),
        "revert the complete run",
    );
    assert_same(&before, &bed.snapshot(), "complete migrate, then revert");

    // How long a whole recover of that crash takes.
    let dir = crash_migration(&mut bed, &migrate, at, "timing run");
    let t = Instant::now();
    let out = expect_ok(admu(&recover), "recover (timed)");
    let full = t.elapsed();
    assert!(says(&out).contains("Rolled back"), "{}", shown(&out));
    assert_undone(&dir, "rollback", "timed recover");
    assert_same(&before, &bed.snapshot(), "timed recover");

    // The same crash, recover killed at random moments over that time, again and again
    // on the same journal; once a recover runs to the end (it exited before its kill),
    // the volume is compared and the next rounds start from a new crash.
    let delays = rng.spread(RECOVER_KILLS, full);
    let mut rounds = Vec::new();
    let (mut series, mut inside_step, mut between_steps) = (0usize, 0usize, 0usize);
    let mut current: Option<(PathBuf, Vec<u128>)> = None;
    for (round, delay) in delays.iter().enumerate() {
        let (dir, killed_at) = current.get_or_insert_with(|| {
            series += 1;
            let label = format!("series {series}: killed recovers");
            (crash_migration(&mut bed, &migrate, at, &label), Vec::new())
        });
        let dir = dir.clone();
        killed_at.push(ms(*delay));
        let had = durable_records(&dir).len();
        let t = Instant::now();
        let killed = kill_at(spawn_admu(&recover, &[]), t, *delay);
        let label = format!(
            "seed {seed}, series {series}, recover killed at ms {killed_at:?} after a crash {point}"
        );
        if killed.finished_first {
            // This one ran to the end: the volume must be back.
            let out = expect_ok(killed.output, &format!("{label}: recover (not killed)"));
            let text = says(&out);
            assert!(
                text.contains("Rolled back") || text.contains("Nothing to recover"),
                "{label}: {}",
                shown(&out)
            );
            bed.remount();
            assert_undone(&dir, "rollback", &label);
            assert_same(&before, &bed.snapshot(), &label);
            current = None;
            eprintln!("  round {round}: {} ms: recover ran to the end", ms(*delay));
            rounds.push(format!("{}: end", ms(*delay)));
            continue;
        }
        bed.remount();
        let now = durable_records(&dir);
        let last = now.last().map(point_name).unwrap_or_default();
        match phase(now.last()) {
            "undo_intent" => inside_step += 1,
            "undo_begin" | "undone" => between_steps += 1,
            _ => {}
        }
        eprintln!(
            "  round {round}: {} ms: killed, journal {had} → {} records ({last})",
            ms(*delay),
            now.len()
        );
        rounds.push(format!("{}: {had}→{}", ms(*delay), now.len()));
    }
    if let Some((dir, killed_at)) = current.take() {
        let label = format!(
            "seed {seed}, series {series}, recover killed at ms {killed_at:?} after a crash \
             {point}, then run to the end"
        );
        let out = expect_ok(admu(&recover), &label);
        let text = says(&out);
        assert!(
            text.contains("Rolled back") || text.contains("Nothing to recover"),
            "{label}: {}",
            shown(&out)
        );
        assert_undone(&dir, "rollback", &label);
        assert_same(&before, &bed.snapshot(), &label);
    }

    // Recover aborted after each of its own records: k records of the migration, so the
    // m-th record recover writes is number k + m.
    let mut covered = Vec::new();
    let mut m = 0usize;
    loop {
        m += 1;
        assert!(m <= 64, "recover still aborts at its record {m}");
        let label = format!("recover aborted after its record {m}");
        let dir = crash_migration(&mut bed, &migrate, at, &label);
        let fp = at + m;
        let out = admu_with(&recover, &[("ADMU_FAILPOINT", &fp.to_string())]);
        if out.status.success() {
            // Past its last record: a complete recover.
            assert_eq!(
                journal_records(&dir).len(),
                fp - 1,
                "{label}: failpoint {fp} did not fire but the journal is longer"
            );
            assert_undone(&dir, "rollback", &label);
            assert_same(&before, &bed.snapshot(), &format!("{label}: not aborted"));
            break;
        }
        assert_eq!(
            out.status.signal(),
            Some(SIGABRT),
            "{label}: expected an abort: {}",
            shown(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("failpoint {fp} reached")),
            "{label}: {}",
            shown(&out)
        );
        let records = journal_records(&dir);
        assert_eq!(records.len(), fp, "{label}: journal records");
        let name = point_name(&records[fp - 1]);
        let label = format!("recover aborted {name} (record {m} of its own)");
        let ended = records[fp - 1]["phase"] == "undo_end";
        bed.remount();
        let out = expect_ok(admu(&recover), &format!("{label}: recover again"));
        let want = if ended {
            "Nothing to recover"
        } else {
            "Rolled back unfinished migration"
        };
        assert!(says(&out).contains(want), "{label}: {}", shown(&out));
        assert_undone(&dir, "rollback", &label);
        assert_same(&before, &bed.snapshot(), &format!("{label}, then recover"));
        covered.push(name);
    }
    eprintln!(
        "{test}: seed {seed}; migration crashed {point} (record {at}); a whole recover took {} ms; \
         {RECOVER_KILLS} rounds in {series} series, recover SIGKILLed at ms [{}] (ms: journal \
         records before→after the kill, or end: it ran to the end first); {inside_step} kills \
         inside a step's undo, {between_steps} between steps; after each series a whole recover \
         restored the volume exactly; recover aborted at each of its {} records ({}), then \
         recovered: all restored exactly; in {:.1?}",
        ms(full),
        rounds.join(", "),
        covered.len(),
        covered.join(", "),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// revert, killed
// ---------------------------------------------------------------------------------------

#[test]
fn revert_killed_at_every_journal_point_is_finished_by_recover() {
    let test = "revert_killed_at_every_journal_point_is_finished_by_recover";
    let Some(mut bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let started = Instant::now();
    let root = bed.r().to_string();
    let revert = ["revert", "--root", root.as_str(), "--name", "alice"];
    let before = bed.snapshot();
    let migrate = bed.migrate_args("alice", &[]);
    let mut covered = Vec::new();
    let mut m = 0usize;
    loop {
        m += 1;
        assert!(m <= 64, "revert still aborts at its record {m}");
        let known = journal_dirs(bed.path());
        expect_ok(admu(&strs(&migrate)), &format!("migrate (round {m})"));
        let dir = new_journal(bed.path(), &known);
        let k = journal_records(&dir).len();
        let fp = k + m;
        let out = admu_with(&revert, &[("ADMU_FAILPOINT", &fp.to_string())]);
        if out.status.success() {
            assert_eq!(
                journal_records(&dir).len(),
                fp - 1,
                "revert: failpoint {fp} did not fire but the journal is longer"
            );
            assert_undone(&dir, "revert", "revert not aborted");
            assert_same(&before, &bed.snapshot(), "migrate, then revert");
            break;
        }
        assert_eq!(
            out.status.signal(),
            Some(SIGABRT),
            "revert with failpoint {fp}: expected an abort: {}",
            shown(&out)
        );
        let records = journal_records(&dir);
        assert_eq!(records.len(), fp, "revert with failpoint {fp}: records");
        let name = point_name(&records[fp - 1]);
        let label = format!("revert aborted {name} (record {m} of its own)");
        let ended = records[fp - 1]["phase"] == "undo_end";

        // A second revert refuses: the revert is journaled as interrupted (or done).
        let again = admu(&revert);
        if ended {
            expect_exit(&again, 1, &format!("{label}: revert again"), "is reverted");
        } else {
            expect_exit(
                &again,
                1,
                &format!("{label}: revert again"),
                "run `admu recover` to finish it",
            );
            // And no migration starts over an unfinished journal.
            let out = admu(&strs(&migrate));
            expect_exit(
                &out,
                3,
                &format!("{label}: migrate before recover"),
                "run `admu recover` first",
            );
        }
        assert_eq!(
            journal_records(&dir).len(),
            fp,
            "{label}: the refusals wrote to the journal"
        );

        bed.remount();
        let out = expect_ok(
            admu(&["recover", "--root", &root]),
            &format!("{label}: recover"),
        );
        let want = if ended {
            "Nothing to recover"
        } else {
            "Finished the interrupted revert"
        };
        assert!(says(&out).contains(want), "{label}: {}", shown(&out));
        assert_undone(&dir, "revert", &label);
        assert_same(&before, &bed.snapshot(), &format!("{label}, then recover"));
        covered.push(name);
    }
    eprintln!(
        "{test}: revert aborted at each of its {} records ({}), each finished by recover: \
         all restored exactly; in {:.1?}",
        covered.len(),
        covered.join(", "),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Power loss: the ntfs-3g daemon killed mid-migration
// ---------------------------------------------------------------------------------------

/// Power cuts, each at a random moment of a migration.
const POWER_CUTS: usize = 40;

#[test]
fn power_loss_kills_ntfs3g_mid_migration_then_recover_after_remount() {
    let test = "power_loss_kills_ntfs3g_mid_migration_then_recover_after_remount";
    let Some(mut bed) = Bed::new(test, Some(60)) else {
        return;
    };
    let started = Instant::now();
    let seed = seed();
    let mut rng = Rng(seed ^ 0x0505_0505);
    eprintln!("{test}: seed {seed} (ADMU_POWER_LOSS_SEED={seed} replays it)");
    let root = bed.r().to_string();
    let recover = ["recover", "--root", root.as_str()];
    let revert = ["revert", "--root", root.as_str(), "--name", "alice"];
    let migrate = bed.migrate_args("alice", &[]);
    // Everything so far on the image: a power cut loses only what comes after.
    bed.remount();
    let before = bed.snapshot();

    // How long a normal run takes, started as the rounds start it: just after a mount.
    bed.remount();
    let t = Instant::now();
    expect_ok(admu(&strs(&migrate)), "migrate (timed)");
    let full = t.elapsed();
    expect_ok(admu(&revert), "revert the timed run");
    assert_same(&before, &bed.snapshot(), "migrate, then revert");

    let delays = rng.spread(POWER_CUTS, full);
    let mut rounds = Vec::new();
    for (round, delay) in delays.iter().enumerate() {
        let label = format!(
            "seed {seed}, round {round}, ntfs-3g killed at {} ms",
            ms(*delay)
        );
        bed.remount();
        let known = journal_dirs(bed.path());
        let t = Instant::now();
        let mut child = spawn_admu(&strs(&migrate), &[]);
        while t.elapsed() < *delay {
            std::thread::sleep((*delay - t.elapsed()).min(Duration::from_millis(2)));
        }
        let exited_first = child.try_wait().expect("poll migrate").is_some();
        bed.vol.kill_daemon().expect("kill ntfs-3g");
        let hung = wait_at_most(&mut child, Duration::from_secs(60));
        let out = child.wait_with_output().expect("wait for migrate");
        bed.vol
            .mount_again()
            .unwrap_or_else(|e| panic!("{label}: mount the image again: {e}"));

        // What survived on the image.
        let added: Vec<PathBuf> = journal_dirs(bed.path())
            .difference(&known)
            .cloned()
            .collect();
        assert!(added.len() <= 1, "{label}: journals {added:?}");
        let records = added
            .first()
            .map(|d| durable_records(d))
            .unwrap_or_default();
        let committed = phase(records.last()) == "commit";
        let last = records
            .last()
            .map(point_name)
            .unwrap_or_else(|| "no record".into());
        let migrate_said = match (exited_first, hung, out.status.code()) {
            (true, _, _) => format!("migrate had exited ({})", out.status),
            (_, true, _) => "migrate hung and was killed".to_string(),
            (_, _, Some(c)) => format!("migrate exited {c}"),
            (_, _, None) => format!("migrate ended by {}", out.status),
        };
        let out_ok = out.status.success();
        if exited_first {
            expect_ok(out, &format!("{label}: migrate (finished before the cut)"));
        }

        if out_ok {
            // What it fsynced before saying it was done is on the image.
            assert!(
                committed,
                "{label}: migrate succeeded, but the journal on the image ends {last} \
                 ({} durable records)",
                records.len()
            );
        }

        let rec = admu(&recover);
        assert_eq!(
            rec.status.code(),
            Some(0),
            "{label} ({migrate_said}, {} durable journal records, {last}): recover: {}",
            records.len(),
            shown(&rec)
        );
        let text = says(&rec);
        let recovered = if text.contains("Rolled back unfinished migration") {
            "rolled back"
        } else if text.contains("Closed empty journal") {
            "closed an empty journal"
        } else if text.contains("Nothing to recover") {
            "nothing to recover"
        } else {
            panic!("{label}: recover said: {}", shown(&rec))
        };
        assert!(
            !(committed && recovered == "rolled back"),
            "{label}: a committed migration was rolled back: {}",
            shown(&rec)
        );
        if committed {
            expect_ok(admu(&revert), &format!("{label}: revert the committed run"));
        }
        assert_same(
            &before,
            &bed.snapshot(),
            &format!(
                "{label} ({migrate_said}; {} durable journal records, {last}; recover: {recovered}{})",
                records.len(),
                if committed { ", then revert" } else { "" }
            ),
        );
        let outcome = format!(
            "{} ms: {migrate_said}, {} records ({last}), {recovered}{}",
            ms(*delay),
            records.len(),
            if committed { ", reverted" } else { "" }
        );
        eprintln!("  round {round}: {outcome}");
        rounds.push(outcome);
    }
    eprintln!(
        "power_loss: seed {seed}; a normal migrate took {} ms; {POWER_CUTS} rounds, ntfs-3g \
         killed at ms {:?}: [{}]; all restored exactly; in {:.1?}",
        ms(full),
        delays.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        rounds.join("; "),
        started.elapsed()
    );
}
