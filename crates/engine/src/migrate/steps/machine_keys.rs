//! The SID-bound machine registry state Windows looks up per user, outside ProfileList
//! and LogonUI (docs/migration.md lists each with its source): keys named by the SID
//! (Windows Installer's per-user data, Group Policy's state and data store, the identity
//! cache, the AppX per-user store), values holding it (`ProfileGuid\{GUID}\SidString`,
//! LogonUI session data), the Task Scheduler cache (task keys named by the SID, their
//! `Path`/`URI`, the `SD` descriptors), and Winlogon's default user when it names the
//! old account. Each becomes an edit with its inverse, journaled by the registry step.

use ntsec::{Mode, Sid, SidMap};

use crate::convert::replace_sid_text;
use crate::error::{Error, Result};
use crate::host::{MachineHive, RegEdit, Registry};

/// Keys whose subkey named `<SID>` is that user's state, which moves to the new SID:
/// Windows Installer's per-user installs and the AppX per-user package store.
pub(crate) const SID_NAMED_MOVED: [&str; 2] = [
    r"Microsoft\Windows\CurrentVersion\Installer\UserData",
    r"Microsoft\Windows\CurrentVersion\Appx\AppxAllUserStore",
];

/// Keys whose `<SID>` subkey describes the directory identity (Group Policy's history
/// and data store, the identity cache): copied to the new SID, the original kept, so the
/// old profile stays identifiable (`admu list` names it from these) and a revert or a
/// return to the domain finds them as they were.
pub(crate) const SID_NAMED_COPIED: [&str; 3] = [
    r"Microsoft\Windows\CurrentVersion\Group Policy\State",
    r"Microsoft\Windows\CurrentVersion\Group Policy\DataStore",
    r"Microsoft\IdentityStore\Cache",
];
pub(crate) const PROFILE_GUID: &str = r"Microsoft\Windows NT\CurrentVersion\ProfileGuid";
pub(crate) const TASK_TREE: &str = r"Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tree";
pub(crate) const TASK_TASKS: &str = r"Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tasks";
pub(crate) const WINLOGON: &str = r"Microsoft\Windows NT\CurrentVersion\Winlogon";
pub(crate) const SESSION_DATA: &str =
    r"Microsoft\Windows\CurrentVersion\Authentication\LogonUI\SessionData";

/// Every key below which this step may change something (the journal's inverse edits
/// are checked against these before an undo uses them).
pub(crate) fn roots() -> Vec<&'static str> {
    let mut r = SID_NAMED_MOVED.to_vec();
    r.extend(SID_NAMED_COPIED);
    r.extend([PROFILE_GUID, TASK_TREE, TASK_TASKS, WINLOGON, SESSION_DATA]);
    r
}

/// Who the profile belonged to and goes to.
pub(crate) struct Accounts<'a> {
    pub old: &'a Sid,
    pub new: &'a Sid,
    /// `DOMAIN\user` of the old account, when known.
    pub old_account: &'a str,
    pub new_name: &'a str,
    pub computer: &'a str,
}

fn sz(path: String, name: &str, text: &str) -> RegEdit {
    RegEdit::SetValue {
        path,
        name: name.into(),
        kind: hive::value::types::SZ,
        data: hive::value::encode_sz(text),
    }
}

/// The edits that move the machine's per-user state from the old SID to the new one.
pub(crate) fn machine_key_edits(host: &dyn Registry, a: &Accounts<'_>) -> Result<Vec<RegEdit>> {
    let sw = MachineHive::Software;
    let (old, new) = (a.old.to_string(), a.new.to_string());
    let mut edits = Vec::new();
    for (parent, moved) in SID_NAMED_MOVED
        .iter()
        .map(|p| (*p, true))
        .chain(SID_NAMED_COPIED.iter().map(|p| (*p, false)))
    {
        let Some(key) = host.key(sw, parent)? else {
            continue;
        };
        let Some(name) = key.subkeys.iter().find(|k| k.eq_ignore_ascii_case(&old)) else {
            continue;
        };
        if key.subkeys.iter().any(|k| k.eq_ignore_ascii_case(&new)) {
            return Err(Error::Invalid(format!(
                r"{parent}\{new} exists already: the new account has state of its own there"
            )));
        }
        let from = format!(r"{parent}\{name}");
        if moved {
            edits.push(RegEdit::RenameKey {
                path: from,
                new_name: new.clone(),
            });
        } else {
            copy_tree(host, sw, &from, &format!(r"{parent}\{new}"), &mut edits)?;
        }
    }
    if let Some(guids) = host.key(sw, PROFILE_GUID)? {
        for g in &guids.subkeys {
            let path = format!(r"{PROFILE_GUID}\{g}");
            if let Some(k) = host.key(sw, &path)?
                && k.string("SidString")
                    .is_some_and(|s| s.eq_ignore_ascii_case(&old))
            {
                edits.push(sz(path, "SidString", &new));
            }
        }
    }
    task_cache_edits(host, &old, &new, a, &mut edits)?;
    if let Some(sessions) = host.key(sw, SESSION_DATA)? {
        for s in &sessions.subkeys {
            let path = format!(r"{SESSION_DATA}\{s}");
            if let Some(k) = host.key(sw, &path)?
                && k.string("LoggedOnUserSID")
                    .is_some_and(|v| v.eq_ignore_ascii_case(&old))
            {
                edits.push(sz(path.clone(), "LoggedOnUserSID", &new));
                edits.push(sz(
                    path.clone(),
                    "LoggedOnUser",
                    &format!(r".\{}", a.new_name),
                ));
                edits.push(sz(
                    path,
                    "LoggedOnSAMUser",
                    &format!(r"{}\{}", a.computer, a.new_name),
                ));
            }
        }
    }
    if let Some(w) = host.key(sw, WINLOGON)?
        && let Some((domain, user)) = a.old_account.split_once('\\')
        && w.string("DefaultUserName")
            .is_some_and(|u| u.eq_ignore_ascii_case(user))
        && w.string("DefaultDomainName")
            .is_none_or(|d| d.eq_ignore_ascii_case(domain))
    {
        edits.push(sz(WINLOGON.into(), "DefaultUserName", a.new_name));
        edits.push(sz(WINLOGON.into(), "DefaultDomainName", a.computer));
    }
    Ok(edits)
}

/// The edits that copy a key of `hive` with everything below it (keys first, then their
/// values).
pub(crate) fn copy_tree(
    host: &dyn Registry,
    hive: MachineHive,
    from: &str,
    to: &str,
    edits: &mut Vec<RegEdit>,
) -> Result<()> {
    let Some(key) = host.key(hive, from)? else {
        return Ok(());
    };
    edits.push(RegEdit::CreateKey { path: to.into() });
    for v in key.values {
        edits.push(RegEdit::SetValue {
            path: to.into(),
            name: v.name,
            kind: v.kind,
            data: v.data,
        });
    }
    for sub in key.subkeys {
        copy_tree(
            host,
            hive,
            &format!(r"{from}\{sub}"),
            &format!(r"{to}\{sub}"),
            edits,
        )?;
    }
    Ok(())
}

/// Task Scheduler's cache: task keys (and their `SD`) and task entries naming the SID.
fn task_cache_edits(
    host: &dyn Registry,
    old: &str,
    new: &str,
    a: &Accounts<'_>,
    edits: &mut Vec<RegEdit>,
) -> Result<()> {
    let sw = MachineHive::Software;
    let mut map = SidMap::new();
    map.insert(a.old.clone(), a.new.clone())
        .map_err(|e| Error::Invalid(e.to_string()))?;
    if let Some(tree) = host.key(sw, TASK_TREE)? {
        for name in &tree.subkeys {
            let path = format!(r"{TASK_TREE}\{name}");
            if let Some(k) = host.key(sw, &path)?
                && let Some(sd) = k.value("SD")
                && let Ok(Some(translated)) = ntsec::translate_bytes(&sd.data, &map, Mode::Replace)
            {
                edits.push(RegEdit::SetValue {
                    path: path.clone(),
                    name: sd.name.clone(),
                    kind: sd.kind,
                    data: translated,
                });
            }
            if let Some(renamed) = replace_sid_text(name, old, new) {
                edits.push(RegEdit::RenameKey {
                    path,
                    new_name: renamed,
                });
            }
        }
    }
    if let Some(tasks) = host.key(sw, TASK_TASKS)? {
        for id in &tasks.subkeys {
            let path = format!(r"{TASK_TASKS}\{id}");
            let Some(k) = host.key(sw, &path)? else {
                continue;
            };
            for field in ["Path", "URI"] {
                if let Some(text) = k.string(field)
                    && let Some(replaced) = replace_sid_text(&text, old, new)
                {
                    edits.push(sz(path.clone(), field, &replaced));
                }
            }
        }
    }
    Ok(())
}
