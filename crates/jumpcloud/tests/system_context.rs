//! System-context authentication: requests signed with the agent's key.

mod common;

use std::time::SystemTime;

use common::system_client;
use jcstandin::{FakeAgent, KeyFormat, RequestAuth, StandIn};
use jumpcloud::signing::{authorization_header, http_date, string_to_sign};
use jumpcloud::{AgentConfig, AuthKind, DescriptionEntry, Error, MigrationState, SystemSigner};
use serde_json::json;

fn signer_for(jc: &StandIn, system: &str, format: KeyFormat) -> (SystemSigner, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (conf, key) = jc
        .agent(system)
        .write_files(dir.path(), format)
        .expect("agent files");
    let agent = AgentConfig::load(&conf).expect("jcagent.conf");
    assert_eq!(agent.system_key, system);
    assert_eq!(agent.region, jumpcloud::Region::Us);
    (SystemSigner::load(&agent, &key).expect("client.key"), dir)
}

#[test]
fn signed_requests_are_accepted_pkcs1_and_pkcs8() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    for format in [KeyFormat::Pkcs1, KeyFormat::Pkcs8] {
        let (signer, _dir) = signer_for(&jc, &system, format);
        let client = system_client(&jc, signer);
        let s = client.verify_system(&system).unwrap();
        assert_eq!(s.id, system);
    }
    for r in jc.requests() {
        assert_eq!(r.auth, RequestAuth::System(system.clone()));
        assert_eq!(r.header("x-api-key"), None);
        let authz = r.header("authorization").unwrap();
        assert!(
            authz.starts_with(&format!(
                "Signature keyId=\"system/{system}\",headers=\"request-line date\",algorithm=\"rsa-sha256\",signature=\""
            )),
            "{authz}"
        );
        assert!(r.header("date").unwrap().ends_with(" GMT"));
    }
    jc.assert_no_violations();
}

#[test]
fn system_context_bind_primary_user_and_status() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let user = jc.add_user("erin", None);
    let admin = jc.add_user("frank", None);
    let (signer, _dir) = signer_for(&jc, &system, KeyFormat::Pkcs8);
    let client = system_client(&jc, signer);

    client.bind_user(&user, &system, false).unwrap();
    client.bind_user(&admin, &system, true).unwrap();
    let assoc = jc.associations();
    assert_eq!(assoc.len(), 2);
    assert!(!assoc.iter().find(|a| a.user_id == user).unwrap().sudo());
    assert!(assoc.iter().find(|a| a.user_id == admin).unwrap().sudo());
    let bind = jc
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(bind.path, format!("/api/v2/systems/{system}/associations"));
    assert_eq!(
        bind.json(),
        Some(
            json!({"op": "add", "type": "user", "id": user, "attributes": {"sudo": {"enabled": false, "withoutPassword": false}}})
        )
    );

    client.set_primary_user(&system, &user).unwrap();
    assert_eq!(
        jc.system(&system).primary_user.as_deref(),
        Some(user.as_str())
    );

    let entry =
        DescriptionEntry::new("S-1-5-21-1-2-3-1104").with_state(MigrationState::Complete, "done");
    client
        .report_status(&system, Some(MigrationState::Complete), Some(&entry))
        .unwrap();
    assert_eq!(
        jc.system(&system).attribute("admu"),
        Some(&json!("Complete"))
    );

    // Things system context cannot do are refused before any request.
    let before = jc.request_count();
    let e = client.find_user("erin").unwrap_err();
    assert!(matches!(e, Error::NeedsApiKey { .. }), "{e}");
    assert_eq!(jc.request_count(), before);
    assert!(
        jc.requests()
            .iter()
            .all(|r| matches!(r.auth, RequestAuth::System(_)))
    );
    jc.assert_no_violations();
}

#[test]
fn a_signature_from_another_key_is_rejected() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let impostor = FakeAgent::generate(&system);
    let signer = SystemSigner::from_pem(
        &system,
        &impostor.private_key_pem(KeyFormat::Pkcs1),
        std::path::Path::new("client.key"),
    )
    .unwrap();
    let client = system_client(&jc, signer);
    let e = client.verify_system(&system).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unauthorized {
                auth: AuthKind::SystemContext,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("signature"), "{e}");
    assert_eq!(jc.request_count(), 1, "401 is not retried");
    assert!(matches!(jc.requests()[0].auth, RequestAuth::Rejected(_)));
    jc.assert_no_violations();
}

#[test]
fn a_tampered_signature_is_rejected() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let (signer, _dir) = signer_for(&jc, &system, KeyFormat::Pkcs8);
    let path = format!("/api/systems/{system}");
    let date = http_date(SystemTime::now());
    let good = signer.signature("GET", &path, &date);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent();
    let send = |authz: String, date: &str, path: &str| {
        agent
            .get(format!("{}{path}", jc.url()))
            .header("Date", date)
            .header("Authorization", authz)
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    // The genuine one passes, as does the stand-in agent's own signature of the same text.
    assert_eq!(
        send(authorization_header(&system, &good), &date, &path),
        200
    );
    let same = jc.agent(&system).sign(&string_to_sign("GET", &path, &date));
    assert_eq!(
        send(authorization_header(&system, &same), &date, &path),
        200
    );
    // One flipped signature byte.
    let mut bytes: Vec<char> = good.chars().collect();
    bytes[10] = if bytes[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = bytes.into_iter().collect();
    assert_eq!(
        send(authorization_header(&system, &tampered), &date, &path),
        401
    );
    // A valid signature replayed with another date or for another path.
    let other_date = http_date(SystemTime::now() + std::time::Duration::from_secs(1));
    assert_eq!(
        send(authorization_header(&system, &good), &other_date, &path),
        401
    );
    assert_eq!(
        send(
            authorization_header(&system, &good),
            &date,
            &format!("{path}?fields=")
        ),
        401
    );
    // A signature over the (request-target) form instead of the request line.
    let wrong_form = jc
        .agent(&system)
        .sign(&format!("(request-target): get {path}\ndate: {date}"));
    assert_eq!(
        send(authorization_header(&system, &wrong_form), &date, &path),
        401
    );
    jc.assert_no_violations();
}

#[test]
fn system_context_reaches_only_its_own_system() {
    let jc = StandIn::start();
    let mine = jc.add_system("PC-1");
    let other = jc.add_system("PC-2");
    let (signer, _dir) = signer_for(&jc, &mine, KeyFormat::Pkcs1);
    let client = system_client(&jc, signer);
    let e = client.system(&other).unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    let e = client.systems().unwrap_err();
    assert!(matches!(e, Error::NeedsApiKey { .. }), "{e}");
    jc.assert_no_violations();
}

#[test]
fn agent_files_with_crlf_and_regions() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let dir = tempfile::tempdir().unwrap();
    let mut agent = jc.agent(&system);
    agent.agent_server_host = "agent.eu.jumpcloud.com".into();
    let (conf, key) = agent.write_files(dir.path(), KeyFormat::Pkcs1).unwrap();
    let pem = std::fs::read_to_string(&key).unwrap().replace('\n', "\r\n");
    std::fs::write(&key, pem).unwrap();
    let cfg = AgentConfig::load(&conf).unwrap();
    assert_eq!(cfg.region, jumpcloud::Region::Eu);
    let signer = SystemSigner::load(&cfg, &key).unwrap();
    assert!(!format!("{signer:?}").contains("PRIVATE"));
    system_client(&jc, signer).verify_system(&system).unwrap();
    let e = SystemSigner::load(&cfg, &dir.path().join("missing.key")).unwrap_err();
    assert!(e.to_string().contains("missing.key"), "{e}");
}
