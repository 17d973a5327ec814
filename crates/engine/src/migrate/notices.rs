//! What a migration cannot carry, said before anything changes (`admu check` and the
//! dry run list these as notes): saved secrets bound to the old SID (DPAPI master keys,
//! the user's RSA keys, EFS), Windows 11 `UserChoiceLatest` associations (no public
//! algorithm; none of admu's peers handles them either), roaming profiles.

use serde::Serialize;

use super::preflight::OpenedHives;
use crate::host::{MachineHive, Registry};
use crate::profiles::{PROFILE_LIST, Profile};

/// Something the migration will not carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub what: &'static str,
    pub detail: String,
}

/// Files in a folder of the profile (0 when it is missing).
fn count_files(profile: &Profile, relative: &str) -> usize {
    profile
        .host_path
        .as_ref()
        .and_then(|p| crate::paths::resolve(p, relative))
        .and_then(|d| std::fs::read_dir(d).ok())
        .map(|entries| entries.flatten().filter(|e| e.path().is_file()).count())
        .unwrap_or(0)
}

/// The notes for a profile about to be migrated.
pub(crate) fn notices(
    host: &dyn Registry,
    profile: &Profile,
    hives: Option<&OpenedHives>,
) -> Vec<Notice> {
    let mut out = Vec::new();
    let Some(sid) = &profile.sid else {
        return out;
    };
    let keys = count_files(
        profile,
        &format!(r"AppData\Roaming\Microsoft\Protect\{sid}"),
    );
    if keys > 0 {
        out.push(Notice {
            what: "DPAPI master keys",
            detail: format!(
                "{keys} files in AppData\\Roaming\\Microsoft\\Protect\\{sid}: saved \
                 passwords (Credential Manager, browsers, Wi-Fi, RDP) are encrypted under keys \
                 bound to the old SID and will not open for the new account unless `--dpapi` \
                 carries them (with the old password or the domain's DPAPI backup key)"
            ),
        });
    }
    let rsa = count_files(
        profile,
        &format!(r"AppData\Roaming\Microsoft\Crypto\RSA\{sid}"),
    );
    if rsa > 0 {
        out.push(Notice {
            what: "user RSA keys (certificates, EFS)",
            detail: format!(
                "{rsa} keys in AppData\\Roaming\\Microsoft\\Crypto\\RSA\\{sid}: \
                 certificate private keys and EFS-encrypted files depend on them (protected \
                 by DPAPI)"
            ),
        });
    }
    if let Some(h) = hives.and_then(|h| h.ntuser.hive.as_ref()) {
        let latest = user_choice_latest(h);
        if latest > 0 {
            out.push(Notice {
                what: "Windows 11 UserChoiceLatest",
                detail: format!(
                    "{latest} default-app choices are stored as UserChoiceLatest, whose hash \
                     has no public algorithm: Windows will ask for those defaults again"
                ),
            });
        }
    }
    let central = host
        .key(
            MachineHive::Software,
            &format!(r"{PROFILE_LIST}\{}", profile.key),
        )
        .ok()
        .flatten()
        .and_then(|k| k.string("CentralProfile"))
        .filter(|c| !c.is_empty());
    if let Some(c) = central {
        out.push(Notice {
            what: "roaming profile",
            detail: format!(
                "the profile roams from {c}: the local copy is migrated; the server copy \
                 stays the domain account's"
            ),
        });
    }
    out
}

/// `UserChoiceLatest` keys under the association roots of NTUSER.DAT.
fn user_choice_latest(hive: &hive::Hive) -> usize {
    let mut n = 0;
    for root in crate::convert::USER_CHOICE_ROOTS {
        let Ok(Some(key)) = hive.key(root) else {
            continue;
        };
        let Ok(subkeys) = key.subkeys() else { continue };
        for k in subkeys {
            if k.subkey("UserChoiceLatest").ok().flatten().is_some() {
                n += 1;
            }
        }
    }
    n
}
