//! System-context authentication: HTTP Signatures (`rsa-sha256`) made with the agent's
//! `client.key`, as JumpCloud documents them and ADMU sends them:
//!
//! ```text
//! Date: Tue, 07 Jun 2022 10:00:00 GMT
//! Authorization: Signature keyId="system/<systemKey>",headers="request-line date",algorithm="rsa-sha256",signature="<base64>"
//! ```
//!
//! where the signed string is the request line and the date header:
//! `"<METHOD> <path?query> HTTP/1.1\ndate: <Date>"`. (The later HTTP-Signatures drafts
//! name the pseudo-header `(request-target)` and sign `"(request-target): get /path"`;
//! JumpCloud's system-context API uses the `request-line` form, so that is what is
//! signed here.)

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _};

use crate::agent::{AgentConfig, is_valid_system_key};
use crate::error::{Error, Result};

/// The string that is signed for a request.
pub fn string_to_sign(method: &str, path_and_query: &str, date: &str) -> String {
    format!(
        "{} {} HTTP/1.1\ndate: {}",
        method.to_ascii_uppercase(),
        path_and_query,
        date
    )
}

/// An RFC 1123 `Date` header value (`Tue, 07 Jun 2022 10:00:00 GMT`).
pub fn http_date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

/// The `Authorization` header value for a signature (base64).
pub fn authorization_header(system_key: &str, signature_b64: &str) -> String {
    format!(
        "Signature keyId=\"system/{system_key}\",headers=\"request-line date\",algorithm=\"rsa-sha256\",signature=\"{signature_b64}\""
    )
}

/// Signs requests as this device (system context). `Debug` shows the system key only.
#[derive(Clone)]
pub struct SystemSigner {
    system_key: String,
    key: std::sync::Arc<SigningKey<Sha256>>,
}

impl fmt::Debug for SystemSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemSigner")
            .field("system_key", &self.system_key)
            .field("key", &crate::secret::REDACTED)
            .finish()
    }
}

impl SystemSigner {
    /// From the agent's config and its `client.key` file.
    pub fn load(agent: &AgentConfig, client_key: &Path) -> Result<SystemSigner> {
        let pem = std::fs::read_to_string(client_key).map_err(|e| Error::AgentKey {
            path: client_key.to_owned(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "not found: is the JumpCloud agent installed and registered?".to_owned()
            } else {
                format!("cannot read it ({e}): run as SYSTEM or an administrator")
            },
        })?;
        Self::from_pem(&agent.system_key, &pem, client_key)
    }

    /// From a system key and a PEM private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8
    /// `PRIVATE KEY`); `source` names it in errors.
    pub fn from_pem(system_key: &str, pem: &str, source: &Path) -> Result<SystemSigner> {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        let err = |reason: String| Error::AgentKey {
            path: source.to_owned(),
            reason,
        };
        if !is_valid_system_key(system_key) {
            return Err(err(format!("system key {system_key:?} is malformed")));
        }
        let pem = pem.trim_start_matches('\u{feff}').replace("\r\n", "\n");
        let pem = pem.trim();
        let key = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::PrivateKey::from_pkcs1_pem(pem)
                .map_err(|e| err(format!("not a valid PKCS#1 RSA key ({e})")))?
        } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
            rsa::PrivateKey::from_pkcs8_pem(pem)
                .map_err(|e| err(format!("not a valid PKCS#8 RSA key ({e})")))?
        } else if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(err(
                "the key is encrypted; the agent's key is not, so this is not client.key"
                    .to_owned(),
            ));
        } else {
            return Err(err("not a PEM RSA private key".to_owned()));
        };
        Ok(SystemSigner {
            system_key: system_key.to_owned(),
            key: std::sync::Arc::new(SigningKey::<Sha256>::new(key)),
        })
    }

    /// This device's system key.
    pub fn system_key(&self) -> &str {
        &self.system_key
    }

    /// `system/<systemKey>`.
    pub fn key_id(&self) -> String {
        format!("system/{}", self.system_key)
    }

    /// The base64 signature of [`string_to_sign`].
    pub fn signature(&self, method: &str, path_and_query: &str, date: &str) -> String {
        let text = string_to_sign(method, path_and_query, date);
        let sig = self.key.sign(text.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    }

    /// The `Authorization` header value for a request.
    pub fn authorization(&self, method: &str, path_and_query: &str, date: &str) -> String {
        authorization_header(
            &self.system_key,
            &self.signature(method, path_and_query, date),
        )
    }
}

/// Where `client.key` is expected next to a `jcagent.conf`.
pub fn client_key_beside(conf: &Path) -> PathBuf {
    conf.with_file_name("client.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_is_request_line_and_date() {
        assert_eq!(
            string_to_sign(
                "get",
                "/api/systems/abc?x=1",
                "Tue, 07 Jun 2022 10:00:00 GMT"
            ),
            "GET /api/systems/abc?x=1 HTTP/1.1\ndate: Tue, 07 Jun 2022 10:00:00 GMT"
        );
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_654_596_000)),
            "Tue, 07 Jun 2022 10:00:00 GMT"
        );
        assert_eq!(
            authorization_header("k1", "c2ln"),
            r#"Signature keyId="system/k1",headers="request-line date",algorithm="rsa-sha256",signature="c2ln""#
        );
    }

    #[test]
    fn bad_keys() {
        let p = Path::new("client.key");
        let e = SystemSigner::from_pem("abc", "garbage", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("client.key") && e.contains("not a PEM"), "{e}");
        let e = SystemSigner::from_pem(
            "abc",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("PKCS#1"), "{e}");
        let e = SystemSigner::from_pem("a/b", "", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed"), "{e}");
    }
}
