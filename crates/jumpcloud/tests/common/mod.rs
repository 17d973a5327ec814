//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use jcstandin::StandIn;
use jumpcloud::{ApiKey, Auth, BaseUrl, Client, RetryPolicy, SystemSigner};

/// A retry policy that keeps tests fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    }
}

pub fn base(jc: &StandIn) -> BaseUrl {
    BaseUrl::parse(jc.url()).expect("stand-in URL")
}

/// An API-key client for the stand-in.
pub fn api_client(jc: &StandIn) -> Client {
    Client::builder(base(jc), Auth::ApiKey(ApiKey::new(jc.api_key())))
        .timeout(Duration::from_secs(10))
        .retry(fast_retry())
        .build()
}

/// A system-context client for the stand-in.
pub fn system_client(jc: &StandIn, signer: SystemSigner) -> Client {
    Client::builder(base(jc), Auth::System(signer))
        .timeout(Duration::from_secs(10))
        .retry(fast_retry())
        .build()
}
