//! The client against the stand-in, API-key authentication.

mod common;

use common::api_client;
use jcstandin::StandIn;
use jumpcloud::{DescriptionEntry, DomainWait, Error, MigrationState};
use serde_json::json;
use std::time::Duration;

#[test]
fn bind_as_user_and_as_admin() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let alice = jc.add_user("alice", None);
    let bob = jc.add_user("bob", None);
    let mut client = api_client(&jc);
    client.select_organization(None).unwrap();
    client.verify_system(&system).unwrap();

    client.bind_user(&alice, &system, false).unwrap();
    client.bind_user(&bob, &system, true).unwrap();

    let assoc = jc.associations();
    assert_eq!(assoc.len(), 2);
    let a = assoc.iter().find(|a| a.user_id == alice).unwrap();
    assert_eq!(a.system_id, system);
    assert!(!a.sudo());
    let b = assoc.iter().find(|a| a.user_id == bob).unwrap();
    assert!(b.sudo());
    assert_eq!(
        b.attributes,
        Some(json!({"sudo": {"enabled": true, "withoutPassword": false}}))
    );

    // The bind went to the user's association endpoint with the key and org id.
    let reqs = jc.requests();
    let binds: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.ends_with("/associations"))
        .collect();
    assert_eq!(binds.len(), 2);
    assert_eq!(binds[0].path, format!("/api/v2/users/{alice}/associations"));
    assert_eq!(
        binds[0].json(),
        Some(json!({"op": "add", "type": "system", "id": system}))
    );
    for r in &reqs {
        assert_eq!(r.header("x-api-key"), Some(jc.api_key().as_str()));
    }
    jc.assert_no_violations();
}

#[test]
fn bind_unknown_user_or_system_is_not_found() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let client = api_client(&jc);
    let e = client
        .bind_user("5f0000000000000000000bad", &system, false)
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("5f0000000000000000000bad"), "{e}");
    let user = jc.add_user("u", None);
    let e = client
        .bind_user(&user, "7f0000000000000000000bad", false)
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    // 404 is never retried.
    assert_eq!(jc.request_count(), 2);
    let e = client.system("7f0000000000000000000bad").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(
        e.to_string().contains("system 7f0000000000000000000bad"),
        "{e}"
    );
    jc.assert_no_violations();
}

#[test]
fn primary_user() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let user = jc.add_user("carol", None);
    let client = api_client(&jc);
    client.set_primary_user(&system, &user).unwrap();
    assert_eq!(
        jc.system(&system).primary_user.as_deref(),
        Some(user.as_str())
    );
    let put = jc
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.json(), Some(json!({"primarySystemUser.id": user})));
    // Read back and verified.
    assert_eq!(
        jc.requests().last().map(|r| r.method.clone()).as_deref(),
        Some("GET")
    );
    jc.assert_no_violations();
}

#[test]
fn single_org_is_chosen_and_sent() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let mut client = api_client(&jc);
    let org = client.select_organization(None).unwrap();
    assert_eq!(org.id, jc.default_org());
    assert_eq!(org.name, "Org One");
    client.verify_system(&system).unwrap();
    let reqs = jc.requests();
    assert_eq!(reqs[0].path, "/api/organizations");
    assert_eq!(reqs[0].header("x-org-id"), None);
    assert_eq!(reqs[1].header("x-org-id"), Some(org.id.as_str()));
    jc.assert_no_violations();
}

#[test]
fn multi_tenant_key_without_and_with_org_id() {
    let jc = StandIn::start();
    let org1 = jc.default_org();
    let org2 = jc.add_org("Second Tenant");
    let system2 = jc.add_system_in(&org2, "PC-2");
    let dave2 = jc.add_user_in(&org2, "dave", None);
    jc.add_user_in(&org1, "dave", None);

    let mut client = api_client(&jc);
    let e = client.select_organization(None).unwrap_err();
    match &e {
        Error::MultipleOrganizations { orgs } => assert_eq!(orgs.len(), 2),
        other => panic!("unexpected {other}"),
    }
    let msg = e.to_string();
    assert!(msg.contains(&org1) && msg.contains("Org One"), "{msg}");
    assert!(
        msg.contains(&org2) && msg.contains("Second Tenant"),
        "{msg}"
    );
    assert_eq!(client.org_id(), None);

    let e = client
        .select_organization(Some("5f00000000000000000000ff"))
        .unwrap_err();
    assert!(matches!(e, Error::UnknownOrganization { .. }), "{e}");
    assert!(e.to_string().contains("Second Tenant"), "{e}");

    // Without an org id, a multi-tenant key is refused by the API.
    let e = client.system(&system2).unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");

    jc.clear_requests();
    let chosen = client.select_organization(Some(&org2)).unwrap();
    assert_eq!(chosen.name, "Second Tenant");
    client.verify_system(&system2).unwrap();
    let dave = client.find_user("dave").unwrap();
    assert_eq!(dave.id, dave2);
    client.bind_user(&dave.id, &system2, false).unwrap();
    for r in jc
        .requests()
        .iter()
        .filter(|r| r.path != "/api/organizations")
    {
        assert_eq!(
            r.header("x-org-id"),
            Some(org2.as_str()),
            "{} {}",
            r.method,
            r.path
        );
    }
    jc.assert_no_violations();
}

#[test]
fn organisations_are_paged() {
    let jc = StandIn::start();
    for i in 0..130 {
        jc.add_org(&format!("Tenant {i}"));
    }
    let client = api_client(&jc);
    let orgs = client.organizations().unwrap();
    assert_eq!(orgs.len(), 131);
    let pages: Vec<_> = jc.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(pages.len(), 2);
    assert!(pages[1].contains(&("skip".to_owned(), "100".to_owned())));
    jc.assert_no_violations();
}

#[test]
fn unknown_user() {
    let jc = StandIn::start();
    jc.add_user("someone", None);
    let client = api_client(&jc);
    let e = client.find_user("nobody").unwrap_err();
    assert!(matches!(e, Error::UserNotFound { .. }), "{e}");
    assert!(e.to_string().contains("\"nobody\""), "{e}");
    let e = client.find_user("  ").unwrap_err();
    assert!(matches!(e, Error::UserNotFound { .. }), "{e}");
    jc.assert_no_violations();
}

#[test]
fn usernames_with_regex_metacharacters_match_literally() {
    let jc = StandIn::start();
    let axb = jc.add_user("axb", None);
    let client = api_client(&jc);
    // `a.b` must not find `axb`.
    let e = client.find_user("a.b").unwrap_err();
    assert!(matches!(e, Error::UserNotFound { .. }), "{e}");
    let search = jc.requests().pop().unwrap();
    assert_eq!(search.path, "/api/search/systemusers");
    assert_eq!(
        search.json().unwrap()["filter"],
        json!({"and": [{"username": {"$regex": r"(?i)^a\.b$"}}]})
    );

    let adotb = jc.add_user("a.b", None);
    jc.add_user("aab", None);
    jc.add_user("ab", None);
    let aplusb = jc.add_user("a+b", None);
    assert_eq!(client.find_user("a.b").unwrap().id, adotb);
    assert_eq!(
        client.find_user("A.B").unwrap().id,
        adotb,
        "case-insensitive"
    );
    assert_eq!(client.find_user("axb").unwrap().id, axb);
    assert_eq!(client.find_user("a+b").unwrap().id, aplusb);
    let odd = jc.add_user("we(i)rd[1]{2}|^x$-y~z#&\\", None);
    assert_eq!(
        client.find_user("we(i)rd[1]{2}|^x$-y~z#&\\").unwrap().id,
        odd
    );
    jc.assert_no_violations();
}

#[test]
fn system_username_is_returned_and_duplicates_are_ambiguous() {
    let jc = StandIn::start();
    let id = jc.add_user("jane.doe", Some("jane"));
    let client = api_client(&jc);
    let u = client.find_user("Jane.Doe").unwrap();
    assert_eq!(u.id, id);
    assert_eq!(u.username, "jane.doe");
    assert_eq!(u.system_username.as_deref(), Some("jane"));
    assert_eq!(u.local_username(), "jane");
    let plain = jc.add_user("plain", None);
    let u = client.find_user("plain").unwrap();
    assert_eq!((u.id.as_str(), u.system_username), (plain.as_str(), None));

    jc.add_user("twin", None);
    jc.add_user("TWIN", None);
    let e = client.find_user("twin").unwrap_err();
    assert!(
        matches!(e, Error::AmbiguousUser { ref ids, .. } if ids.len() == 2),
        "{e}"
    );
    jc.assert_no_violations();
}

#[test]
fn status_sequence_keeps_other_attributes_and_entries() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let other_entry = json!({"sid": "S-1-5-21-9-9-9-1200", "un": "other", "st": "Pending", "msg": "Planned", "uid": "u9"});
    jc.update_system(&system, |s| {
        s.attributes = vec![json!({"name": "site", "value": "HQ"})];
        s.description = Some(json!([other_entry]).to_string());
    });
    let client = api_client(&jc);
    let sid = "S-1-5-21-1-2-3-1104";
    let entry = DescriptionEntry {
        username: Some("jdoe".into()),
        local_path: Some(r"C:\Users\jdoe".into()),
        user_id: Some("u1".into()),
        last_login: Some("2026-01-02T03:04:05Z".into()),
        ..DescriptionEntry::new(sid)
    }
    .with_state(MigrationState::InProgress, "Migration started");
    client
        .report_status(&system, Some(MigrationState::InProgress), Some(&entry))
        .unwrap();
    let s = jc.system(&system);
    assert_eq!(s.attribute("admu"), Some(&json!("InProgress")));
    assert_eq!(s.attribute("site"), Some(&json!("HQ")));
    let d = s.description_json().unwrap();
    assert_eq!(d.as_array().unwrap().len(), 2);
    assert_eq!(d[0], other_entry);
    assert_eq!(
        d[1],
        json!({"sid": sid, "un": "jdoe", "localPath": "C:/Users/jdoe", "uid": "u1",
               "lastLogin": "2026-01-02T03:04:05Z", "st": "InProgress", "msg": "Migration started"})
    );

    // Someone else changes the record in between: that survives too.
    jc.update_system(&system, |s| {
        s.attributes.push(json!({"name": "owner", "value": "IT"}))
    });

    let done = DescriptionEntry::new(sid)
        .with_state(MigrationState::Complete, "Migration completed successfully");
    client
        .report_status(&system, Some(MigrationState::Complete), Some(&done))
        .unwrap();
    let s = jc.system(&system);
    assert_eq!(s.attribute("admu"), Some(&json!("Complete")));
    assert_eq!(s.attribute("site"), Some(&json!("HQ")));
    assert_eq!(s.attribute("owner"), Some(&json!("IT")));
    assert_eq!(s.attributes.len(), 3);
    let d = s.description_json().unwrap();
    assert_eq!(d[0], other_entry);
    assert_eq!(d[1]["st"], "Complete");
    assert_eq!(d[1]["msg"], "Migration completed successfully");
    assert_eq!(d[1]["un"], "jdoe", "fields not in the update are kept");
    assert_eq!(d[1]["localPath"], "C:/Users/jdoe");

    client
        .set_admu_state(&system, MigrationState::Error)
        .unwrap();
    assert_eq!(jc.system(&system).attribute("admu"), Some(&json!("Error")));
    assert_eq!(
        jc.system(&system).description_json().unwrap()[1]["st"],
        "Complete"
    );
    jc.assert_no_violations();
}

#[test]
fn wait_for_domain_leave() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.leave_domain_after(&system, Some(3));
    let client = api_client(&jc);
    let mut seen = Vec::new();
    let wait = DomainWait {
        poll_interval: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    };
    let s = client
        .wait_for_domain_leave(&system, wait, &mut |p| {
            seen.push((p.polls, p.part_of_domain))
        })
        .unwrap();
    assert_eq!(s.part_of_domain(), Some(false));
    assert_eq!(
        seen,
        vec![(1, Some(true)), (2, Some(true)), (3, Some(false))]
    );
    jc.assert_no_violations();
}

#[test]
fn device_never_leaving_the_domain_times_out() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let client = api_client(&jc);
    let mut polls = 0;
    let wait = DomainWait {
        poll_interval: Duration::from_millis(50),
        timeout: Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let e = client
        .wait_for_domain_leave(&system, wait, &mut |p| {
            polls = p.polls;
            assert_eq!(p.part_of_domain, Some(true));
        })
        .unwrap_err();
    assert!(matches!(e, Error::StillInDomain { .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(polls >= 3, "{polls}");
    assert_eq!(jc.request_count(), polls as usize);
    jc.assert_no_violations();
}

#[test]
fn system_listing_is_paged() {
    let jc = StandIn::start();
    let ids: Vec<String> = (0..3).map(|i| jc.add_system(&format!("PC-{i}"))).collect();
    let client = api_client(&jc);
    let systems = client.systems().unwrap();
    assert_eq!(
        systems.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        ids
    );
    jc.assert_no_violations();
}

#[test]
fn the_stand_in_catches_requests_that_violate_the_spec() {
    // A check of the checker: a malformed body gets 400 and is recorded.
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let client = api_client(&jc);
    let path = format!("/api/systems/{system}");
    let reply = client
        .send("PUT", &path, &[], Some(&json!({"attributes": "admu"})))
        .unwrap();
    assert_eq!(reply.status, 400);
    let reply = client
        .send(
            "POST",
            "/api/v2/users/abc/associations",
            &[("targets", "system")],
            Some(&json!({"op": "add", "type": "system", "id": "x"})),
        )
        .unwrap();
    assert_eq!(reply.status, 400);
    let v = jc.violations();
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v[1].problems.iter().any(|p| p.contains("targets")),
        "{v:#?}"
    );
}

#[test]
fn region_discovery_takes_the_first_base_that_accepts_the_key() {
    let us = StandIn::start();
    us.set_api_key("another-orgs-key");
    let eu = StandIn::start();
    let key = jumpcloud::ApiKey::new(eu.api_key());
    let bases = [common::base(&us), common::base(&eu)];
    let (client, orgs) =
        jumpcloud::Client::discover(&bases, &key, |b| b.retry(common::fast_retry())).unwrap();
    assert_eq!(client.base_url(), &bases[1]);
    assert_eq!(orgs.len(), 1);
    assert_eq!(us.request_count(), 1);
    let e = jumpcloud::Client::discover(&bases[..1], &key, |b| b).unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    us.assert_no_violations();
    eu.assert_no_violations();
}
