//! Where the API lives: a JumpCloud region or an explicit `--jc-url`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::{Error, Result};

/// A JumpCloud data-centre region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    /// `https://console.jumpcloud.com`
    #[default]
    Us,
    /// `https://console.eu.jumpcloud.com`
    Eu,
    /// `https://console.in.jumpcloud.com`
    In,
}

impl Region {
    /// Every region, in the order ADMU tries them.
    pub const ALL: [Region; 3] = [Region::Us, Region::Eu, Region::In];

    /// The console/API base URL of the region.
    pub fn base_url(self) -> BaseUrl {
        let url = match self {
            Region::Us => "https://console.jumpcloud.com",
            Region::Eu => "https://console.eu.jumpcloud.com",
            Region::In => "https://console.in.jumpcloud.com",
        };
        BaseUrl {
            url: url.to_owned(),
            loopback: false,
        }
    }

    /// The short name: `us`, `eu` or `in`.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::In => "in",
        }
    }

    /// The region of an agent from its `agentServerHost` (`agent.eu.jumpcloud.com` → EU,
    /// `agent.in.jumpcloud.com` → IN, anything else → US), as ADMU does.
    pub fn from_agent_server_host(host: &str) -> Region {
        let host = host.trim().to_ascii_lowercase();
        let host = host.split(':').next().unwrap_or_default();
        let middle = host
            .strip_prefix("agent.")
            .and_then(|rest| rest.strip_suffix(".jumpcloud.com"));
        match middle {
            Some("eu") => Region::Eu,
            Some("in") => Region::In,
            _ => Region::Us,
        }
    }
}

impl FromStr for Region {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            "in" => Ok(Region::In),
            _ => Err(Error::UnknownRegion(s.to_owned())),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated API base URL: `https://` anything, or `http://` to a loopback address
/// only (`localhost`, `127.0.0.0/8`, `[::1]`), with no credentials, query or fragment.
/// Stored without a trailing slash; request paths (`/api/...`) are appended to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    url: String,
    loopback: bool,
}

impl BaseUrl {
    /// Parses and checks a `--jc-url` value.
    pub fn parse(input: &str) -> Result<BaseUrl> {
        let bad = |reason: &str| Error::InvalidUrl {
            url: input.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = input.trim();
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| bad("it must start with https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad("only https:// URLs are supported"));
        }
        if rest.contains(['?', '#']) {
            return Err(bad("a base URL cannot have a query or fragment"));
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace"));
        }
        // It is passed on to devices' command lines: nothing that quotes or escapes there.
        if rest.contains(['"', '\'', '`', '\\']) || !rest.is_ascii() {
            return Err(bad(
                "it contains a quote, a backslash or a character that is not ASCII",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not allowed; pass the API key separately",
            ));
        }
        let (host, port) =
            split_host_port(authority).ok_or_else(|| bad("the host or port is malformed"))?;
        if host.is_empty() {
            return Err(bad("it has no host"));
        }
        let loopback = is_loopback_host(host);
        if scheme == "http" && !loopback {
            return Err(bad(
                "http:// is only allowed for loopback addresses (localhost, 127.0.0.1, [::1]); use https://",
            ));
        }
        let path = path.trim_end_matches('/');
        if path.split('/').any(|seg| seg == ".." || seg == ".") {
            return Err(bad("the path cannot contain . or .. segments"));
        }
        let mut url = format!("{scheme}://{}", host.to_ascii_lowercase());
        if let Some(port) = port {
            url.push(':');
            url.push_str(&port.to_string());
        }
        url.push_str(path);
        Ok(BaseUrl { url, loopback })
    }

    /// The URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// True for a loopback host (tests, local stand-ins).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The path prefix of the base URL (`""` for `https://console.jumpcloud.com`).
    pub fn path_prefix(&self) -> &str {
        let after_scheme = self
            .url
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or_default();
        match after_scheme.find('/') {
            Some(i) => &after_scheme[i..],
            None => "",
        }
    }

    /// `base + path_and_query` (the latter starts with `/`).
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{}", self.url, path_and_query)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl FromStr for BaseUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BaseUrl::parse(s)
    }
}

impl From<Region> for BaseUrl {
    fn from(region: Region) -> Self {
        region.base_url()
    }
}

/// Splits `host[:port]` / `[v6][:port]`; `None` if malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &authority[..end + 2];
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<Ipv6Addr>()
            .ok()?;
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u16 = p.parse().ok()?;
            if n == 0 {
                return None;
            }
            Some(n)
        }
    };
    if !host.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return None;
    }
    Some((host, port))
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .map(|a| a.is_loopback())
            .unwrap_or(false);
    }
    host.parse::<Ipv4Addr>()
        .map(|a| a.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere() {
        let u = BaseUrl::parse("https://console.jumpcloud.com/").unwrap();
        assert_eq!(u.as_str(), "https://console.jumpcloud.com");
        assert!(!u.is_loopback());
        assert_eq!(
            u.join("/api/systems"),
            "https://console.jumpcloud.com/api/systems"
        );
        let u = BaseUrl::parse(" HTTPS://Proxy.Example.com:8443/jc/ ").unwrap();
        assert_eq!(u.as_str(), "https://proxy.example.com:8443/jc");
        assert_eq!(u.path_prefix(), "/jc");
        assert!(BaseUrl::parse("https://10.1.2.3").is_ok());
        assert!(BaseUrl::parse("https://[2001:db8::1]:443").is_ok());
    }

    #[test]
    fn http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.8.7",
            "http://localhost:1234/",
            "http://LOCALHOST",
            "http://[::1]:9000",
        ] {
            let u = BaseUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(u.is_loopback(), "{ok}");
        }
        for bad in [
            "http://console.jumpcloud.com",
            "http://10.0.0.1",
            "http://192.168.1.1:80",
            "http://[::2]",
            "http://localhost.evil.com",
            "http://127.0.0.1.nip.io",
            "http://0.0.0.0",
        ] {
            let err = BaseUrl::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{bad}");
            assert!(err.to_string().contains("loopback"), "{bad}: {err}");
        }
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "console.jumpcloud.com",
            "ftp://x",
            "https://",
            "https://user:pw@console.jumpcloud.com",
            "https://host:notaport",
            "https://host:0",
            "https://host:70000",
            "https://host/a?b=c",
            "https://host/#x",
            "https://ho st",
            "https://host/../x",
            "https://[::1",
            "https://host/a\"b",
            "https://host/a'b",
            "https://host\\x",
            "https://h\u{f6}st",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn regions() {
        assert_eq!(
            Region::Us.base_url().as_str(),
            "https://console.jumpcloud.com"
        );
        assert_eq!(
            Region::Eu.base_url().as_str(),
            "https://console.eu.jumpcloud.com"
        );
        assert_eq!(
            Region::In.base_url().as_str(),
            "https://console.in.jumpcloud.com"
        );
        assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
        assert!("uk".parse::<Region>().is_err());
        assert_eq!(
            Region::from_agent_server_host("agent.eu.jumpcloud.com"),
            Region::Eu
        );
        assert_eq!(
            Region::from_agent_server_host("agent.in.jumpcloud.com:443"),
            Region::In
        );
        assert_eq!(
            Region::from_agent_server_host("agent.jumpcloud.com"),
            Region::Us
        );
        assert_eq!(Region::from_agent_server_host(""), Region::Us);
    }
}
