//! Fake agents: an RSA key pair per system, written out as `jcagent.conf` and
//! `client.key` for tests; and verification of system-context signatures.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::EncodePrivateKey as _;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};

/// How a fake agent's `client.key` is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN RSA PRIVATE KEY-----`
    Pkcs1,
    /// `-----BEGIN PRIVATE KEY-----`
    Pkcs8,
}

/// A fake agent: a system key and its RSA key pair.
#[derive(Clone)]
pub struct FakeAgent {
    /// The system key (= system id).
    pub system_key: String,
    /// `agentServerHost` written to `jcagent.conf`.
    pub agent_server_host: String,
    key: rsa::PrivateKey,
}

impl std::fmt::Debug for FakeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAgent")
            .field("system_key", &self.system_key)
            .finish_non_exhaustive()
    }
}

impl FakeAgent {
    /// A new agent with a fresh 2048-bit key.
    ///
    /// # Panics
    /// If the operating system's random source fails.
    pub fn generate(system_key: &str) -> FakeAgent {
        #[allow(clippy::expect_used)]
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA key generation");
        FakeAgent {
            system_key: system_key.to_owned(),
            agent_server_host: "agent.jumpcloud.com".to_owned(),
            key,
        }
    }

    /// An agent with a key from the process-wide pool: the `index`-th key is generated
    /// once per process and reused, so stand-ins do not pay for RSA key generation
    /// (slow in debug builds) on every system. Distinct indexes give distinct keys.
    pub(crate) fn pooled(system_key: &str, index: usize) -> FakeAgent {
        static POOL: std::sync::Mutex<Vec<rsa::PrivateKey>> = std::sync::Mutex::new(Vec::new());
        let mut pool = match POOL.lock() {
            Ok(p) => p,
            Err(p) => p.into_inner(),
        };
        while pool.len() <= index {
            let fresh = FakeAgent::generate("pool");
            pool.push(fresh.key);
        }
        FakeAgent {
            system_key: system_key.to_owned(),
            agent_server_host: "agent.jumpcloud.com".to_owned(),
            key: pool[index].clone(),
        }
    }

    /// The private key as PEM.
    ///
    /// # Panics
    /// If encoding fails (it does not for a valid key).
    pub fn private_key_pem(&self, format: KeyFormat) -> String {
        #[allow(clippy::expect_used)]
        match format {
            KeyFormat::Pkcs1 => self
                .key
                .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                .expect("PKCS#1 encoding")
                .to_string(),
            KeyFormat::Pkcs8 => self
                .key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .expect("PKCS#8 encoding")
                .to_string(),
        }
    }

    /// The `jcagent.conf` text.
    pub fn conf_json(&self) -> String {
        serde_json::json!({
            "agentServerHost": self.agent_server_host,
            "systemKey": self.system_key,
            "logLevel": "info",
        })
        .to_string()
    }

    /// Writes `jcagent.conf` and `client.key` into `dir`; returns their paths.
    pub fn write_files(
        &self,
        dir: &Path,
        format: KeyFormat,
    ) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let conf = dir.join("jcagent.conf");
        let key = dir.join("client.key");
        std::fs::write(&conf, self.conf_json())?;
        std::fs::write(&key, self.private_key_pem(format))?;
        Ok((conf, key))
    }

    /// Signs a string as the agent would (base64 RSASSA-PKCS1-v1_5 SHA-256).
    pub fn sign(&self, text: &str) -> String {
        let sig = SigningKey::<Sha256>::new(self.key.clone()).sign(text.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    }

    pub(crate) fn public_key(&self) -> rsa::PublicKey {
        self.key.to_public_key()
    }
}

/// The parts of a `Signature` authorization header.
#[derive(Debug, Default)]
pub(crate) struct SignatureHeader {
    pub key_id: String,
    pub headers: String,
    pub algorithm: String,
    pub signature: String,
}

pub(crate) fn parse_signature_header(value: &str) -> Option<SignatureHeader> {
    let rest = value.trim().strip_prefix("Signature ")?;
    let mut out = SignatureHeader::default();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let end = after.find('"')?;
        let val = &after[..end];
        match key.trim() {
            "keyId" => out.key_id = val.to_owned(),
            "headers" => out.headers = val.to_owned(),
            "algorithm" => out.algorithm = val.to_owned(),
            "signature" => out.signature = val.to_owned(),
            _ => {}
        }
        rest = after[end + 1..].trim_start_matches(',').trim();
    }
    Some(out)
}

/// Verifies a signature header for a request; `Err` says why it is refused.
pub(crate) fn verify(
    header: &SignatureHeader,
    public_key: &rsa::PublicKey,
    method: &str,
    raw_url: &str,
    date: Option<&str>,
    max_skew: Duration,
) -> Result<(), String> {
    if header.headers != "request-line date" {
        return Err(format!(
            "headers must be \"request-line date\", not {:?}",
            header.headers
        ));
    }
    if header.algorithm != "rsa-sha256" {
        return Err(format!(
            "algorithm must be rsa-sha256, not {:?}",
            header.algorithm
        ));
    }
    let date = date.ok_or("no Date header")?;
    let when = httpdate::parse_http_date(date)
        .map_err(|_| format!("Date {date:?} is not an HTTP date"))?;
    let now = SystemTime::now();
    let skew = now.duration_since(when).unwrap_or_else(|e| e.duration());
    if skew > max_skew {
        return Err(format!("Date {date:?} is {skew:?} off"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&header.signature)
        .map_err(|_| "the signature is not base64".to_owned())?;
    let sig =
        Signature::try_from(bytes.as_slice()).map_err(|_| "malformed signature".to_owned())?;
    let text = format!(
        "{} {} HTTP/1.1\ndate: {}",
        method.to_ascii_uppercase(),
        raw_url,
        date
    );
    VerifyingKey::<Sha256>::new(public_key.clone())
        .verify(text.as_bytes(), &sig)
        .map_err(|_| "the signature does not verify".to_owned())
}
