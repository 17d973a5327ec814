//! The fleet operations against the stand-in: paged listings, commands (create, update
//! by name, associations, run, results), System Insights users, the user list.

mod common;

use common::api_client;
use jcstandin::StandIn;
use jumpcloud::{CommandSpec, Error, Upsert};

#[test]
fn listings_are_paged() {
    let jc = StandIn::start();
    let hosts: Vec<String> = (0..250).map(|i| format!("PC-{i}")).collect();
    let ids = jc.add_systems(&hosts);
    for id in &ids[..3] {
        jc.add_insight_user(id, "alice", "S-1-5-21-1-2-3-1104", "roaming");
    }
    for i in 0..120 {
        jc.add_user(&format!("user{i}"), (i == 7).then_some("seven"));
    }
    let mut client = api_client(&jc);
    client.select_organization(None).unwrap();
    let mut seen = Vec::new();
    let systems = client
        .systems_with_progress(&mut |p| seen.push((p.read, p.total)))
        .unwrap();
    assert_eq!(systems.len(), 250);
    assert_eq!(seen, [(100, Some(250)), (200, Some(250)), (250, Some(250))]);
    let insight = client.insight_users(&mut |_| {}).unwrap();
    assert_eq!(insight.len(), 3);
    assert_eq!(
        (insight[0].uuid.as_str(), insight[0].uid.as_str()),
        ("S-1-5-21-1-2-3-1104", "1104")
    );
    let users = client.system_users(&mut |_| {}).unwrap();
    assert_eq!(users.len(), 120);
    assert_eq!(users[7].local_username(), "seven");
    jc.assert_no_violations();
}

#[test]
fn commands_are_saved_by_name_bound_run_and_read_back() {
    let jc = StandIn::start();
    let a = jc.add_system("PC-1");
    let b = jc.add_system("PC-2");
    let mut client = api_client(&jc);
    client.select_organization(None).unwrap();
    let spec = CommandSpec {
        name: "admu fleet".into(),
        command: "Write-Output 1".into(),
        timeout_secs: 600,
    };
    let (first, how) = client.upsert_command(&spec).unwrap();
    assert_eq!(how, Upsert::Created);
    let spec2 = CommandSpec {
        command: "Write-Output 2".into(),
        ..spec.clone()
    };
    let (second, how) = client.upsert_command(&spec2).unwrap();
    assert_eq!((how, &second.id), (Upsert::Updated, &first.id));
    assert_eq!(jc.commands()[0].text(), "Write-Output 2");
    assert_eq!(jc.commands()[0].body["commandType"], "windows");

    let both = vec![a.clone(), b.clone()];
    client
        .associate_command(&first.id, &both, &mut |_| {})
        .unwrap();
    // Binding again is not an error.
    client
        .associate_command(&first.id, &both[..1], &mut |_| {})
        .unwrap();
    assert_eq!(jc.command_systems(&first.id).len(), 2);
    let queued = client.run_command(&first.id, &both).unwrap();
    assert_eq!(queued.len(), 2);
    let runs = jc.take_runs();
    jc.add_command_result(&runs[0], 0, "fine");
    jc.add_command_result(&runs[1], 1, "admu: broken");
    let results = client.command_results(&mut |_| {}).unwrap();
    assert_eq!(results.len(), 2);
    let failed = results
        .iter()
        .find(|r| r.system_id == runs[1].system_id)
        .unwrap();
    assert_eq!(
        (failed.exit_code, failed.output.as_str()),
        (Some(1), "admu: broken")
    );
    assert_eq!(failed.name, "admu fleet");

    let long = CommandSpec {
        command: "x".repeat(jumpcloud::COMMAND_TEXT_LIMIT + 1),
        ..spec
    };
    assert!(matches!(
        client.upsert_command(&long),
        Err(Error::CommandTooLong { .. })
    ));
    jc.assert_no_violations();
}
