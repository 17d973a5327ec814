//! Secrets never appear in Debug output or in logs, even at trace level.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{api_client, system_client};
use jcstandin::{KeyFormat, StandIn};
use jumpcloud::{AgentConfig, ApiKey, Auth, ConnectKey, SystemSigner};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }
}

fn traced<T>(f: impl FnOnce() -> T) -> (T, String) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    (out, capture.text())
}

#[test]
fn api_key_is_never_logged_or_debug_printed() {
    let jc = StandIn::start();
    let secret = "jc-super-secret-key-4242";
    jc.set_api_key(secret);
    let system = jc.add_system("PC-1");
    let user = jc.add_user("gina", None);
    let mut client = api_client(&jc);
    let (_, log) = traced(|| {
        client.select_organization(None).unwrap();
        client.verify_system(&system).unwrap();
        client.bind_user(&user, &system, true).unwrap();
        // Failures are logged too.
        jc.set_failure(jcstandin::Failure::ServerError);
        let _ = client.verify_system(&system);
    });
    assert!(log.contains("jumpcloud request"), "{log}");
    assert!(
        log.contains("x-api-key") && log.contains("<redacted>"),
        "{log}"
    );
    assert!(log.contains("retrying"), "{log}");
    assert!(
        !log.contains(secret),
        "the API key leaked into the log:\n{log}"
    );

    let key = ApiKey::new(secret);
    for shown in [
        format!("{key:?}"),
        format!("{key}"),
        format!("{client:?}"),
        format!("{:?}", Auth::ApiKey(key.clone())),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let e = jumpcloud::install::msiexec_command(
        std::path::Path::new("a.msi"),
        std::path::Path::new("a.log"),
        &ConnectKey::new("ConnectKey0123"),
    )
    .unwrap();
    assert!(!format!("{e:?}").contains("ConnectKey0123"));
    assert!(!format!("{:?}", ConnectKey::new("ConnectKey0123")).contains("ConnectKey0123"));
}

#[test]
fn signatures_and_agent_keys_are_never_logged() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let dir = tempfile::tempdir().unwrap();
    let (conf, key) = jc
        .agent(&system)
        .write_files(dir.path(), KeyFormat::Pkcs8)
        .unwrap();
    let signer = SystemSigner::load(&AgentConfig::load(&conf).unwrap(), &key).unwrap();
    let pem = std::fs::read_to_string(&key).unwrap();
    let key_body: String = pem.lines().nth(1).unwrap().to_owned();
    let client = system_client(&jc, signer.clone());
    let (_, log) = traced(|| client.verify_system(&system).unwrap());
    let sent = jc.requests()[0].header("authorization").unwrap().to_owned();
    let signature = sent
        .rsplit("signature=\"")
        .next()
        .unwrap()
        .trim_end_matches('"');
    assert!(signature.len() > 100);
    assert!(log.contains("system/"), "{log}");
    assert!(!log.contains(signature), "the signature leaked:\n{log}");
    assert!(!log.contains(&key_body));
    assert!(!format!("{signer:?} {client:?}").contains(&key_body));
}
