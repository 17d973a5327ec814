//! Helpers of `fleet_cli.rs`: running `admu fleet`, the CSV, and devices simulated on
//! sample volumes (a queued run's command text read back, its `admu migrate`
//! invocations run with `--root`, the result recorded in the stand-in).
#![allow(dead_code, reason = "shared by the fleet tests")]

use std::path::Path;
use std::process::{Command, Output};

use jcstandin::{KeyFormat, QueuedRun, StandIn};
use serde_json::Value as Json;

use crate::common::*;

pub fn fleet(args: &[&str], jc: &StandIn) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admu"))
        .arg("fleet")
        .args(args)
        .args(["--jc-url", jc.url()])
        .env("JC_API_KEY", jc.api_key())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run admu fleet")
}

pub fn install_agent(root: &Path, jc: &StandIn, system: &str) {
    let dir = root.join("Program Files/JumpCloud/Plugins/Contrib");
    jc.agent(system)
        .write_files(&dir, KeyFormat::Pkcs8)
        .expect("write the agent's files");
}

pub fn csv(rows: &[[&str; 8]]) -> String {
    let mut s = String::from(
        "SID,LocalPath,LocalComputerName,LocalUsername,JumpCloudUserName,JumpCloudUserID,JumpCloudSystemID,SerialNumber\n",
    );
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s
}

pub fn status_json(jc: &StandIn) -> (i32, Json) {
    let out = fleet(&["status", "--json"], jc);
    (
        out.status.code().unwrap_or(-1),
        json_of(&out, "fleet status"),
    )
}

/// Plays the device for each queued run: the invocations the script holds for it,
/// with `--root` its volume; records the result. Returns (system, exit code) pairs.
pub fn play_devices(jc: &StandIn, volumes: &[(&str, &Path)]) -> Vec<(String, i32)> {
    let mut done = Vec::new();
    for run in jc.take_runs() {
        let root = volumes
            .iter()
            .find(|(id, _)| *id == run.system_id)
            .map(|(_, r)| *r)
            .expect("a volume for every system run on");
        let (code, output) = play(&run, root);
        jc.add_command_result(&run, i64::from(code), &output);
        done.push((run.system_id.clone(), code));
    }
    done
}

pub fn play(run: &QueuedRun, root: &Path) -> (i32, String) {
    let parsed = fleet::parse::parse(&run.text).expect("the script reads back");
    let mut output = String::new();
    let mut failed = 0;
    for args in parsed.invocations(&run.system_id) {
        let out = Command::new(env!("CARGO_BIN_EXE_admu"))
            .args(&args)
            .arg("--root")
            .arg(root)
            .env(
                fleet::script::PASSWORD_VAR,
                fleet::random_password().expect("random"),
            )
            .env_remove("JC_API_KEY")
            .env("NO_COLOR", "1")
            .output()
            .expect("run admu migrate");
        let code = out.status.code().unwrap_or(-1);
        output.push_str(&all_text(&out));
        output.push_str(&format!("admu: {} -> {}: exit {code}\n", args[2], args[4]));
        if code != 0 {
            failed += 1;
        }
    }
    (i32::from(failed > 0), output)
}

pub struct Device {
    pub id: String,
    pub root: std::path::PathBuf,
}

pub fn plain_sample(dir: &Path, name: &str) -> std::path::PathBuf {
    let root = dir.join(name);
    let r = root.to_str().expect("utf-8");
    expect_ok(
        admu(&["sample", "create", r, "--seed", SEED, "--files", "5"]),
        "sample",
    );
    root
}
