//! Failures: each gives the right error, and retries happen only where allowed
//! (counted by the requests the stand-in saw).

mod common;

use std::time::{Duration, Instant};

use common::{api_client, base, fast_retry};
use jcstandin::{Failure, StandIn};
use jumpcloud::{ApiKey, Auth, AuthKind, Client, Error, RetryPolicy};

#[test]
fn unauthorized_is_not_retried() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.set_failure(Failure::Unauthorized);
    let client = api_client(&jc);
    let e = client.verify_system(&system).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unauthorized {
                auth: AuthKind::ApiKey,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("API key"), "{e}");
    assert_eq!(jc.request_count(), 1);
    jc.assert_no_violations();
}

#[test]
fn wrong_api_key_is_unauthorized() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let client = Client::builder(base(&jc), Auth::ApiKey(ApiKey::new("not-the-key")))
        .retry(fast_retry())
        .build();
    let e = client.verify_system(&system).unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    let e = client.organizations().unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    assert_eq!(jc.request_count(), 2);
    jc.assert_no_violations();
}

#[test]
fn not_found_is_not_retried() {
    let jc = StandIn::start();
    let client = api_client(&jc);
    let e = client
        .verify_system("7f00000000000000000000aa")
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("jcagent.conf"), "{e}");
    assert_eq!(jc.request_count(), 1);
    jc.assert_no_violations();
}

#[test]
fn too_many_requests_then_ok_honours_retry_after() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.set_failure(Failure::TooManyRequests {
        times: 2,
        retry_after_secs: 1,
    });
    let client = api_client(&jc);
    let started = Instant::now();
    let s = client.verify_system(&system).unwrap();
    assert_eq!(s.id, system);
    // Two 429s, each followed by the 1 s the server asked for (the backoff alone is 10 ms).
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = jc.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    jc.assert_no_violations();
}

#[test]
fn too_many_requests_gives_up_after_the_attempts() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.set_failure(Failure::TooManyRequests {
        times: 100,
        retry_after_secs: 0,
    });
    let client = api_client(&jc);
    let e = client.verify_system(&system).unwrap_err();
    assert!(matches!(e, Error::RateLimited { attempts: 3, .. }), "{e}");
    assert_eq!(jc.request_count(), 3);
    jc.assert_no_violations();
}

#[test]
fn retry_after_longer_than_allowed_fails_at_once() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.set_failure(Failure::TooManyRequests {
        times: 1,
        retry_after_secs: 3600,
    });
    let client = api_client(&jc);
    let started = Instant::now();
    let e = client.verify_system(&system).unwrap_err();
    assert!(matches!(e, Error::RateLimited { attempts: 1, .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(jc.request_count(), 1);
}

#[test]
fn server_error_forever_is_retried_then_reported() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let user = jc.add_user("u", None);
    jc.set_failure(Failure::ServerError);
    let client = api_client(&jc);
    let e = client.verify_system(&system).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Server {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("status.jumpcloud.com"), "{e}");
    assert_eq!(jc.request_count(), 3);
    // POSTs too: a 5xx answer means the request was not applied.
    let e = client.bind_user(&user, &system, false).unwrap_err();
    assert!(matches!(e, Error::Server { .. }), "{e}");
    assert_eq!(jc.request_count(), 6);
    jc.assert_no_violations();
}

#[test]
fn a_gateway_timeout_is_retried_for_reads_but_a_post_is_sent_once() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    let user = jc.add_user("u", None);
    jc.set_failure(Failure::GatewayTimeout);
    let client = api_client(&jc);
    let e = client.verify_system(&system).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Server {
                status: 504,
                attempts: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(jc.request_count(), 3);
    // The API may have applied it behind the gateway: not sent again.
    let e = client.bind_user(&user, &system, false).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Server {
                status: 504,
                attempts: 1,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(jc.request_count(), 4);
    jc.assert_no_violations();
}

#[test]
fn server_error_then_recovery() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.set_failure(Failure::ServerError);
    let client = Client::builder(base(&jc), Auth::ApiKey(ApiKey::new(jc.api_key())))
        .retry(RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(150),
            ..fast_retry()
        })
        .build();
    // Let the first attempt fail, then heal the server while the client backs off.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while jc.request_count() == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            jc.set_failure(Failure::None);
        });
        client.verify_system(&system).unwrap();
    });
    let statuses: Vec<u16> = jc.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.first(), Some(&500));
    assert_eq!(statuses.last(), Some(&200));
    jc.assert_no_violations();
}

#[test]
fn slow_responses_time_out_without_retry() {
    let jc = StandIn::start();
    let system = jc.add_system("PC-1");
    jc.set_failure(Failure::Slow(Duration::from_millis(1500)));
    let client = Client::builder(base(&jc), Auth::ApiKey(ApiKey::new(jc.api_key())))
        .timeout(Duration::from_millis(300))
        .retry(fast_retry())
        .build();
    let started = Instant::now();
    let e = client.verify_system(&system).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    // The stand-in records a request when it answers it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while jc.request_count() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(jc.request_count(), 1, "a timed-out request is not repeated");
    jc.assert_no_violations();
}

#[test]
fn connection_refused_is_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = jumpcloud::BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = Client::builder(base, Auth::ApiKey(ApiKey::new("k")))
        .retry(fast_retry())
        .timeout(Duration::from_secs(2))
        .build();
    let e = client.organizations().unwrap_err();
    assert!(matches!(e, Error::Connect { attempts: 3, .. }), "{e}");
    assert!(e.to_string().contains("proxy"), "{e}");
}

#[test]
fn http_is_refused_for_non_loopback_hosts() {
    for url in [
        "http://console.jumpcloud.com",
        "http://10.0.0.5:8080",
        "http://[2001:db8::1]",
    ] {
        let e = jumpcloud::BaseUrl::parse(url).unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{url}");
    }
    assert!(jumpcloud::BaseUrl::parse("https://console.eu.jumpcloud.com").is_ok());
    assert!(jumpcloud::BaseUrl::parse("http://127.0.0.1:1").is_ok());
}
