//! The installed JumpCloud agent's files: `jcagent.conf` (system key, region) and
//! `client.key` (used for system-context signatures).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::base_url::Region;
use crate::error::{Error, Result};

/// Where the Windows agent keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPaths {
    /// `…\JumpCloud\Plugins\Contrib\jcagent.conf`
    pub conf: PathBuf,
    /// `…\JumpCloud\Plugins\Contrib\client.key`
    pub client_key: PathBuf,
}

impl AgentPaths {
    /// The agent's files under a Program Files directory.
    pub fn under_program_files(program_files: &Path) -> AgentPaths {
        let contrib = program_files
            .join("JumpCloud")
            .join("Plugins")
            .join("Contrib");
        AgentPaths {
            conf: contrib.join("jcagent.conf"),
            client_key: contrib.join("client.key"),
        }
    }

    /// The agent's files in the agent's directory itself (`dir/jcagent.conf`,
    /// `dir/client.key`).
    pub fn in_dir(dir: &Path) -> AgentPaths {
        AgentPaths {
            conf: dir.join("jcagent.conf"),
            client_key: dir.join("client.key"),
        }
    }

    /// The default Windows location: `%ProgramFiles%\JumpCloud\Plugins\Contrib`.
    pub fn windows_default() -> AgentPaths {
        let pf = std::env::var_os("ProgramFiles")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\Program Files"));
        Self::under_program_files(&pf)
    }
}

/// What `jcagent.conf` says about this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `systemKey`: this device's system id in JumpCloud.
    pub system_key: String,
    /// `agentServerHost`, if present.
    pub agent_server_host: Option<String>,
    /// The region derived from `agentServerHost`.
    pub region: Region,
}

impl AgentConfig {
    /// Reads and parses `jcagent.conf`.
    pub fn load(path: &Path) -> Result<AgentConfig> {
        let bytes = std::fs::read(path).map_err(|e| Error::AgentConfig {
            path: path.to_owned(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "not found: is the JumpCloud agent installed (and has it registered)?".to_owned()
            } else {
                format!("cannot read it: {e}")
            },
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Self::parse(&text, path)
    }

    /// Parses the text of `jcagent.conf`; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<AgentConfig> {
        let err = |reason: String| Error::AgentConfig {
            path: path.to_owned(),
            reason,
        };
        let text = text.trim_start_matches('\u{feff}');
        let json: Value = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "is not valid JSON ({e}): the file is damaged; reinstall the agent"
            ))
        })?;
        let obj = json.as_object().ok_or_else(|| {
            err("is not a JSON object: the file is damaged; reinstall the agent".to_owned())
        })?;
        let system_key = match obj.get("systemKey") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(err(
                    "has no systemKey yet: the agent has not registered with JumpCloud (check its connect key and network, then wait)"
                        .to_owned(),
                ));
            }
            Some(other) => return Err(err(format!("systemKey is not a string: {other}"))),
        };
        if !is_valid_system_key(&system_key) {
            return Err(err(format!(
                "systemKey {system_key:?} has unexpected characters: the file is damaged; reinstall the agent"
            )));
        }
        let agent_server_host = obj
            .get("agentServerHost")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let region = agent_server_host
            .as_deref()
            .map(Region::from_agent_server_host)
            .unwrap_or_default();
        Ok(AgentConfig {
            path: path.to_owned(),
            system_key,
            agent_server_host,
            region,
        })
    }
}

/// A system key (or any object id) is letters, digits and `_` (ADMU's `\w+`).
pub fn is_valid_system_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conf() {
        let p = Path::new("C:/x/jcagent.conf");
        let c = AgentConfig::parse(
            "\u{feff}{\"agentServerHost\":\"agent.eu.jumpcloud.com\",\"systemKey\":\"5f1a2b3c4d\",\"other\":1}",
            p,
        )
        .unwrap();
        assert_eq!(c.system_key, "5f1a2b3c4d");
        assert_eq!(c.region, Region::Eu);
        let c = AgentConfig::parse(r#"{"systemKey":"abc"}"#, p).unwrap();
        assert_eq!(c.region, Region::Us);
    }

    #[test]
    fn errors_name_the_file() {
        let p = Path::new("/etc/jc/jcagent.conf");
        for (text, needle) in [
            ("not json", "not valid JSON"),
            ("[1]", "not a JSON object"),
            (
                r#"{"agentServerHost":"agent.jumpcloud.com"}"#,
                "no systemKey",
            ),
            (r#"{"systemKey":""}"#, "no systemKey"),
            (r#"{"systemKey":"a/../b"}"#, "unexpected characters"),
            (r#"{"systemKey":5}"#, "not a string"),
        ] {
            let e = AgentConfig::parse(text, p).unwrap_err().to_string();
            assert!(e.contains("/etc/jc/jcagent.conf"), "{e}");
            assert!(e.contains(needle), "{e}");
        }
        let e = AgentConfig::load(Path::new("/nonexistent/jcagent.conf"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/jcagent.conf") && e.contains("installed"),
            "{e}"
        );
    }

    #[test]
    fn paths() {
        let p = AgentPaths::under_program_files(Path::new("PF"));
        assert!(
            p.conf.ends_with("Contrib/jcagent.conf") || p.conf.ends_with(r"Contrib\jcagent.conf")
        );
        assert!(p.client_key.to_string_lossy().contains("JumpCloud"));
    }
}
