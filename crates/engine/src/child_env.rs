//! The environment of the programs admu starts (msiexec, sc, schtasks, dsregcmd, a log
//! viewer): without the variables that carried admu its secrets.
//!
//! admu reads passwords and keys from environment variables so they never appear on a
//! command line. A child process inherits the whole environment, and Rust 2024 makes
//! clearing our own (`remove_var`) unsafe, so every spawn removes them instead:
//!
//! ```
//! let mut command = std::process::Command::new("schtasks.exe");
//! engine::child_env::without_secrets(&mut command);
//! assert!(command.get_envs().any(|(k, v)| k == "JC_API_KEY" && v.is_none()));
//! ```

use std::ffi::OsString;
use std::process::Command;
use std::sync::Mutex;

/// The variables admu reads secrets from by name: the JumpCloud API and connect keys,
/// the old password for DPAPI, the password a fleet command makes on the device.
pub const SECRET_VARS: [&str; 4] = [
    "JC_API_KEY",
    "JC_CONNECT_KEY",
    "ADMU_OLD_PASSWORD",
    "ADMU_FLEET_PASSWORD",
];

/// Variables named at run time (`--password-env NAME`).
static NAMED: Mutex<Vec<OsString>> = Mutex::new(Vec::new());

/// Notes that the variable `name` held a secret, so no child inherits it.
pub fn secret_var(name: &str) {
    let mut named = NAMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !named.iter().any(|n| n == name) {
        named.push(name.into());
    }
}

/// Removes every secret-carrying variable from `command`'s environment.
pub fn without_secrets(command: &mut Command) -> &mut Command {
    for name in SECRET_VARS {
        command.env_remove(name);
    }
    let named = NAMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for name in named.iter() {
        command.env_remove(name);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_named_variables_are_removed() {
        secret_var("ADMU_TEST_CHILD_ENV_PASSWORD");
        secret_var("ADMU_TEST_CHILD_ENV_PASSWORD");
        let mut command = Command::new("true");
        command.env("KEEP_ME", "1");
        without_secrets(&mut command);
        let envs: Vec<_> = command.get_envs().collect();
        for name in SECRET_VARS
            .iter()
            .copied()
            .chain(["ADMU_TEST_CHILD_ENV_PASSWORD"])
        {
            assert!(
                envs.iter().any(|(k, v)| *k == name && v.is_none()),
                "{name} not removed: {envs:?}"
            );
        }
        assert!(envs.iter().any(|(k, v)| *k == "KEEP_ME" && v.is_some()));
        assert_eq!(envs.len(), SECRET_VARS.len() + 2);
    }
}
