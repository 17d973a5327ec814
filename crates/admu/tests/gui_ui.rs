//! The window, driven by its labels (AccessKit, through egui_kittest) on a sample volume
//! on the NTFS test bed, as an admin would use it: pick the profile, type the new
//! username and the password twice, tick options, press Migrate; then Revert; and
//! Recover from the banner after an interrupted migration. Each test asserts on what
//! the engine did to the volume (`admu list`/`admu info` and the volume snapshots of
//! tests/common), not on the window alone.
//!
//! Every screen is rendered headless (wgpu on lavapipe, Mesa's software Vulkan) into
//! `target/screenshots/gui-*.png`.
#![cfg(test)]
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use admu_gui::{App, Tab, labels};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use serde_json::Value as Json;

mod common;
use common::*;

const SIZE: [f32; 2] = [1280.0, 800.0];
const TIMEOUT: Duration = Duration::from_secs(300);
const USERNAME: &str = labels::USERNAME;
const PASSWORD_FIELD: &str = labels::PASSWORD;
const CONFIRM_FIELD: &str = labels::CONFIRM;
const OLD_PASSWORD: &str = sample::protect::OLD_PASSWORD;

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// The window on `root`, its log into the bed's scratch folder.
fn window(root: &Path, log: PathBuf) -> Harness<'static, App> {
    window_at(root, log, SIZE, 1.0)
}

/// The window at `size` points, `scale` pixels per point.
fn window_at(root: &Path, log: PathBuf, size: [f32; 2], scale: f32) -> Harness<'static, App> {
    let mut app = App::new(Some(root.to_path_buf()));
    app.set_log_file(log);
    Harness::builder()
        .with_size(size)
        .with_pixels_per_point(scale)
        .with_max_steps(64)
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

/// Steps the window until `done` holds (the worker answers in real time), then lets it
/// settle (which also checks that every widget has a label).
#[track_caller]
fn wait(h: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if done(h.state()) {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
    h.run();
}

fn idle(h: &mut Harness<'static, App>, what: &str) {
    wait(h, what, |app| app.idle());
}

#[track_caller]
fn shot(h: &mut Harness<'static, App>, name: &str) {
    let image = h.render().expect("render the window (wgpu)");
    let path = screenshots().join(format!("gui-{name}.png"));
    image.save(&path).expect("write the screenshot");
    let colours: std::collections::HashSet<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 8, "{}: the image is blank", path.display());
}

fn type_into(h: &mut Harness<'static, App>, label: &str, text: &str) {
    h.get_by_label(label).click();
    idle(h, label);
    h.get_by_label(label).type_text(text);
    idle(h, label);
}

/// Types into a field while the checks may be running (a spinner: `run` would not
/// settle), then waits until they are in.
fn type_and_wait(h: &mut Harness<'static, App>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.get_by_label(label).type_text(text);
    idle(h, label);
}

fn enabled(h: &Harness<'static, App>, label: &str) -> bool {
    !h.get_by_label(label).accesskit_node().is_disabled()
}

/// The text of the one label that contains `part` (AccessKit keeps a label's text in
/// its value).
fn text_with(h: &Harness<'static, App>, part: &str) -> String {
    let node = h.get_by_label_contains(part);
    let node = node.accesskit_node();
    node.label().or_else(|| node.value()).unwrap_or_default()
}

/// The row of the checks panel of the check `check`.
fn check_row(h: &Harness<'static, App>, check: &str) -> String {
    text_with(h, &format!("{check}: "))
}

fn admu_json(args: &[&str]) -> Json {
    let out = expect_ok(admu(args), &args.join(" "));
    json_of(&out, &args.join(" "))
}

/// Pick alice's profile, type a taken username, see the failed check, then a free
/// one with the password twice and two options; plan, migrate, revert.
#[test]
fn gui_migrates_plans_and_reverts_a_profile() {
    let Some(bed) = Bed::new("gui_migrates_plans_and_reverts_a_profile", Some(200)) else {
        return;
    };
    let before = bed.snapshot();
    let log = bed.vol.scratch().join("admu-gui.log");
    let mut h = window(bed.path(), log.clone());
    wait(&mut h, "the machine and its profiles", |app| app.idle());
    assert!(h.query_by_label(&bed.computer_name()).is_some());
    shot(&mut h, "1-machine-profiles");

    fill_in_a_taken_name(&mut h, &bed);
    fix_the_name_and_tick_options(&mut h);
    show_and_filter_the_plan(&mut h);
    migrate(&mut h, &bed, &log);
    revert(&mut h);
    assert_same(
        &before,
        &bed.snapshot(),
        "migrate then revert in the window",
    );
}

/// alice's profile, `carol` (a local account already), the password twice.
fn fill_in_a_taken_name(h: &mut Harness<'static, App>, bed: &Bed) {
    let alice = format!("{ALICE} ({}.bak)", bed.alice_sid());
    h.get_by_label(&alice).click();
    idle(h, "alice's profile");
    assert!(!enabled(h, labels::MIGRATE), "nothing typed yet");
    type_into(h, USERNAME, "carol");
    // Tab moves on to the password field: the keyboard reaches every field in order.
    h.key_press(egui::Key::Tab);
    idle(h, "the next field");
    assert!(h.get_by_label(PASSWORD_FIELD).is_focused());
    type_into(h, PASSWORD_FIELD, PASSWORD);
    type_into(h, CONFIRM_FIELD, "not the same");
    idle(h, "the checks of carol");
    let differ = check_row(h, "password typed the same twice");
    assert!(differ.starts_with("FAIL"), "{differ}");
    // Show password shows what was typed; hidden again after.
    h.get_by_label(labels::SHOW_PASSWORD).click();
    idle(h, labels::SHOW_PASSWORD);
    assert_eq!(
        h.get_by_label(CONFIRM_FIELD).value().as_deref(),
        Some("not the same")
    );
    h.get_by_label(labels::SHOW_PASSWORD).click();
    idle(h, labels::SHOW_PASSWORD);
    select_all_and_type(h, CONFIRM_FIELD, PASSWORD);
    idle(h, "the checks of carol");
    let taken = check_row(h, "new name is free");
    assert!(taken.starts_with("FAIL"), "{taken}");
    assert!(check_row(h, "password typed the same twice").starts_with("PASS"));
    assert!(!enabled(h, labels::MIGRATE), "a check failed");
    shot(h, "2-form-failed-checks");
}

fn select_all_and_type(h: &mut Harness<'static, App>, label: &str, text: &str) {
    h.get_by_label(label).click();
    idle(h, label);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label(label).type_text(text);
    idle(h, label);
}

/// `alice2` instead, local administrator, keep groups: every check passes.
fn fix_the_name_and_tick_options(h: &mut Harness<'static, App>) {
    select_all_and_type(h, USERNAME, "alice2");
    h.get_by_label("Make the account a local administrator")
        .click();
    h.get_by_label("Keep the old account's local groups")
        .click();
    idle(h, "the checks of alice2");
    let free = check_row(h, "new name is free");
    assert!(free.starts_with("PASS"), "{free}");
    assert!(enabled(h, labels::MIGRATE), "every check passed");
    let offline = h.get_by_label("Sign the user out first");
    assert!(offline.accesskit_node().is_disabled(), "live-only offline");
}

fn show_and_filter_the_plan(h: &mut Harness<'static, App>) {
    h.get_by_label(labels::SHOW_PLAN).click();
    idle(h, "the plan");
    assert_eq!(h.state().tab, Tab::Plan);
    assert!(
        h.query_by_label_contains("create local account alice2")
            .is_some()
    );
    shot(h, "3-plan");
    type_into(h, labels::FILTER, "ProfileImagePath");
    assert!(
        h.query_by_label_contains("create local account alice2")
            .is_none()
    );
    assert!(
        h.query_all_by_label_contains("ProfileImagePath")
            .next()
            .is_some()
    );
}

/// Migrate, and what the engine did: a committed journal, alice's folder now the
/// local admin alice2's; the password fields zeroed, the password in no log.
fn migrate(h: &mut Harness<'static, App>, bed: &Bed, log: &Path) {
    let known = journal_dirs(bed.path());
    h.get_by_label(labels::MIGRATE).click();
    h.step();
    // Closing the window while it runs asks first; keep it running.
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    // (A new dialog is measured in its first frame, drawn in the next.)
    h.step();
    h.step();
    h.get_by_label(labels::KEEP_RUNNING).click();
    h.step();
    wait(h, "the migration", |app| app.finished().is_some());
    assert!(h.query_by_label(labels::KEEP_RUNNING).is_none());
    let finished = h.state().finished().cloned().expect("finished");
    assert!(finished.ok, "the migration failed: {:?}", finished.lines);
    shot(h, "4-progress-finished");

    let dir = new_journal(bed.path(), &known);
    let records = journal_records(&dir);
    assert_eq!(
        records.last().map(|r| &r["phase"]),
        Some(&Json::from("commit"))
    );
    let rows = admu_json(&["list", "--root", bed.r(), "--json"]);
    let row = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["account"].as_str().is_some_and(|a| a.ends_with("alice2")))
        .unwrap_or_else(|| panic!("no row of alice2 in {rows:#}"));
    assert_eq!(row["kind"], "local", "{row}");
    assert_eq!(row["path"], r"C:\Users\alice", "{row}");
    assert_eq!(row["local_admin"], true, "--admin: {row}");

    for field in [PASSWORD_FIELD, CONFIRM_FIELD] {
        let value = h.get_by_label(field).value().unwrap_or_default();
        assert!(
            value.is_empty(),
            "{field} still holds {} characters",
            value.len()
        );
    }
    assert!(h.state().log().iter().all(|l| !l.text.contains(PASSWORD)));
    let written = std::fs::read_to_string(log).expect("the window's log file");
    assert!(written.contains("migration journal at"), "{written}");
    assert!(!written.contains(PASSWORD), "the password is in the log");
}

/// Close the progress, Revert from the Migrated tab, confirm.
fn revert(h: &mut Harness<'static, App>) {
    // The profiles are read again after the run; the window is disabled meanwhile.
    idle(h, "the profiles after the migration");
    h.get_by_label(labels::CLOSE).click();
    idle(h, "the reload");
    assert_eq!(h.state().tab, Tab::Migrated);
    shot(h, "5-migrated");
    h.get_by_label("Revert alice2").click();
    h.run();
    h.get_by_label(labels::CONFIRM_REVERT).click();
    wait(h, "the revert", |app| app.finished().is_some());
    let finished = h.state().finished().cloned().expect("finished");
    assert!(finished.ok, "the revert failed: {:?}", finished.lines);
}

/// A migration killed half-way leaves a journal: the window says so in a banner and
/// Recover rolls it back. Also the 200 % rendering.
#[test]
fn gui_recovers_an_interrupted_migration() {
    let Some(mut bed) = Bed::new("gui_recovers_an_interrupted_migration", Some(200)) else {
        return;
    };
    let before = bed.snapshot();
    let args = bed.migrate_args("alice2", &[]);
    let out = admu_with(&strs(&args), &[("ADMU_FAILPOINT", "4")]);
    assert!(!out.status.success(), "failpoint 4: {}", shown(&out));
    bed.remount();

    let mut h = window(bed.path(), bed.vol.scratch().join("admu-gui.log"));
    idle(&mut h, "the machine");
    let banner = text_with(&h, "did not finish");
    assert!(banner.contains("alice2"), "{banner}");
    shot(&mut h, "6-recover-banner");
    // 200 %: a 1920x1200 screen at Windows' 200 % scaling is 960x600 points.
    let mut scaled = window_at(
        bed.path(),
        bed.vol.scratch().join("scaled.log"),
        [960.0, 600.0],
        2.0,
    );
    idle(&mut scaled, "the machine at 200 %");
    assert!(scaled.query_by_label(labels::RECOVER).is_some());
    shot(&mut scaled, "7-scale-200");
    drop(scaled);

    h.get_by_label(labels::RECOVER).click();
    wait(&mut h, "the recovery", |app| app.finished().is_some());
    let finished = h.state().finished().cloned().expect("finished");
    assert!(finished.ok, "recover failed: {:?}", finished.lines);
    assert!(
        finished.lines[0].starts_with("Rolled back unfinished migration"),
        "{:?}",
        finished.lines
    );
    idle(&mut h, "the profiles after the recovery");
    h.get_by_label(labels::CLOSE).click();
    idle(&mut h, "the reload");
    assert!(h.query_by_label_contains("did not finish").is_none());
    let info = admu_json(&["info", "--root", bed.r(), "--json"]);
    assert_eq!(info["migrations"][0]["status"], "rolled_back", "{info:#}");
    assert_same(
        &before,
        &bed.snapshot(),
        "interrupted, then Recover in the window",
    );
}

/// The form's less common options, as an admin fills them in: saved passwords (DPAPI,
/// the old password typed), a bad `--map` line (its check fails, Migrate stays off),
/// and the JumpCloud bind against the stand-in server (URL and API key typed). The
/// engine carries the master keys and JumpCloud binds the user.
#[test]
fn gui_carries_saved_passwords_and_binds_in_jumpcloud() {
    let test = "gui_carries_saved_passwords_and_binds_in_jumpcloud";
    let Some(bed) = Bed::new(test, Some(20)) else {
        return;
    };
    let jc = jcstandin::StandIn::start();
    let system = jc.add_system("PC-1");
    let user = jc.add_user("alice2", None);
    jc.agent(&system)
        .write_files(
            &bed.path().join("Program Files/JumpCloud/Plugins/Contrib"),
            jcstandin::KeyFormat::Pkcs8,
        )
        .expect("the agent's files on the volume");
    let log = bed.vol.scratch().join("admu-gui.log");
    // Tall enough for the whole form without scrolling.
    let mut h = window_at(bed.path(), log.clone(), [1280.0, 1300.0], 1.0);
    idle(&mut h, "the machine");
    h.get_by_label(&format!("{ALICE} ({}.bak)", bed.alice_sid()))
        .click();
    idle(&mut h, "alice's profile");
    type_and_wait(&mut h, USERNAME, "alice2");
    type_and_wait(&mut h, PASSWORD_FIELD, PASSWORD);
    type_and_wait(&mut h, CONFIRM_FIELD, PASSWORD);

    h.get_by_label(labels::DPAPI).click();
    h.step();
    idle(&mut h, "the checks with DPAPI");
    let missing = check_row(&h, "DPAPI: what opens the master keys");
    assert!(missing.starts_with("FAIL"), "{missing}");
    type_and_wait(&mut h, labels::OLD_PASSWORD, OLD_PASSWORD);

    h.get_by_label(labels::JC_BIND).click();
    idle(&mut h, "the checks with JumpCloud");
    h.get_by_label("URL").click();
    idle(&mut h, "the checks with a URL");
    type_and_wait(&mut h, "API URL", jc.url());
    type_and_wait(&mut h, labels::JC_API_KEY, &jc.api_key());

    h.get_by_label("Advanced").click();
    idle(&mut h, "the advanced options");
    type_and_wait(&mut h, labels::MAPS, "S-1-5-21-1-2-3-513");
    idle(&mut h, "the checks with a bad mapping");
    let bad = check_row(&h, "SID mappings are OLD=NEW pairs");
    assert!(bad.starts_with("FAIL"), "{bad}");
    assert!(!enabled(&h, labels::MIGRATE), "a mapping is wrong");
    shot(&mut h, "8-form-dpapi-jumpcloud");
    h.get_by_label(labels::MAPS).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.key_press(egui::Key::Backspace);
    idle(&mut h, "the checks of the full form");
    for check in [
        "DPAPI: what opens the master keys",
        "JumpCloud options complete",
        "JumpCloud user exists",
        "JumpCloud knows this device",
    ] {
        let row = check_row(&h, check);
        assert!(row.starts_with("PASS"), "{row}");
    }
    assert!(enabled(&h, labels::MIGRATE), "every check passed");

    h.get_by_label(labels::MIGRATE).click();
    wait(&mut h, "the migration", |app| app.finished().is_some());
    let finished = h.state().finished().cloned().expect("finished");
    assert!(finished.ok, "the migration failed: {:?}", finished.lines);
    for field in [labels::OLD_PASSWORD, labels::JC_API_KEY] {
        let value = h.get_by_label(field).value().unwrap_or_default();
        assert!(
            value.is_empty(),
            "{field} still holds {} characters",
            value.len()
        );
    }
    let written = std::fs::read_to_string(&log).expect("the window's log file");
    for secret in [PASSWORD, OLD_PASSWORD, &jc.api_key()] {
        assert!(!written.contains(secret), "a secret is in the log");
    }

    let bound = jc.associations();
    assert!(
        bound
            .iter()
            .any(|a| a.user_id == user && a.system_id == system),
        "alice2 bound to PC-1: {bound:?}"
    );
    jc.assert_no_violations();
    let rows = admu_json(&["list", "--root", bed.r(), "--json"]);
    let new_sid = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["account"].as_str().is_some_and(|a| a.ends_with("alice2")))
        .and_then(|r| r["sid"].as_str())
        .unwrap_or_else(|| panic!("no row of alice2 in {rows:#}"))
        .to_string();
    let out = expect_ok(
        admu_with(
            &["--json", "dpapi", "--root", bed.r(), "--sid", &new_sid],
            &[("ADMU_OLD_PASSWORD", PASSWORD)],
        ),
        "admu dpapi on the new SID",
    );
    let listing = json_of(&out, "admu dpapi");
    let keys = listing["master_keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{listing}");
    for k in keys {
        assert_eq!(
            k["opens"], true,
            "the new password opens every key: {listing}"
        );
    }
}
