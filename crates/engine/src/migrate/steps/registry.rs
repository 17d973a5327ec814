//! Steps that set machine registry values: ProfileList (the new SID's key takes the
//! profile; the old key is marked `.ADMU`) and LogonUI (the new account is the last
//! user at the logon screen). The inverse edits are read and journaled before the
//! change; offline the SOFTWARE file is backed up too.

use ntsec::Sid;

use super::{
    Change, CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext,
    backup_machine_file, machine_file_hash, machine_file_undo_how, restore_machine_file,
};
use crate::error::{Error, Result};
use crate::host::{MachineHive, MigrationHost, RegEdit, Registry};
use crate::journal::record::{Done, Intent, MachineFileDone, RegistryIntent, StepId, UndoHow};
use crate::migrate::preflight::Checks;
use crate::profiles::{LOGON_UI, MIGRATED_SUFFIX, PROFILE_LIST, Profile};

/// The password tile provider Windows shows for local accounts.
const PASSWORD_PROVIDER: &str = "{60B78E88-EAD8-445C-9CFD-0B87F74EA6CD}";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    ProfileList,
    MachineKeys,
    LogonUi,
}

pub(crate) struct RegistryStep {
    which: Which,
}

impl RegistryStep {
    pub(crate) const PROFILE_LIST: RegistryStep = RegistryStep {
        which: Which::ProfileList,
    };
    pub(crate) const MACHINE_KEYS: RegistryStep = RegistryStep {
        which: Which::MachineKeys,
    };
    pub(crate) const LOGON_UI: RegistryStep = RegistryStep {
        which: Which::LogonUi,
    };

    /// The edits for this request, or `None` when the step is off.
    fn edits(
        &self,
        host: &dyn MigrationHost,
        source: &Profile,
        new_sid: &Sid,
        name: &str,
        set_default_user: bool,
    ) -> Result<Option<Vec<RegEdit>>> {
        match self.which {
            Which::ProfileList => profile_list_edits(host, source, new_sid).map(Some),
            Which::MachineKeys => {
                let Some(old) = &source.sid else {
                    return Ok(None);
                };
                let computer = host.computer_name().unwrap_or_default();
                let edits = super::machine_keys::machine_key_edits(
                    host,
                    &super::machine_keys::Accounts {
                        old,
                        new: new_sid,
                        old_account: &source.account,
                        new_name: name,
                        computer: &computer,
                    },
                )?;
                Ok((!edits.is_empty()).then_some(edits))
            }
            Which::LogonUi if set_default_user => {
                let computer = host.computer_name().unwrap_or_default();
                Ok(Some(logon_ui_edits(new_sid, name, &computer)))
            }
            Which::LogonUi => Ok(None),
        }
    }

    fn intent<'t>(&self, trace: &Trace<'t>) -> Option<&'t RegistryIntent> {
        match (self.which, trace.intent?) {
            (Which::ProfileList, Intent::ProfileList(i))
            | (Which::MachineKeys, Intent::MachineKeys(i))
            | (Which::LogonUi, Intent::LogonUi(i)) => Some(i),
            _ => None,
        }
    }
}

impl Step for RegistryStep {
    fn id(&self) -> StepId {
        match self.which {
            Which::ProfileList => StepId::ProfileList,
            Which::MachineKeys => StepId::MachineKeys,
            Which::LogonUi => StepId::LogonUi,
        }
    }

    fn check(&self, cx: &CheckContext<'_>, c: &mut Checks) -> Result<()> {
        if self.which != Which::ProfileList {
            return Ok(());
        }
        let Some(existing) = cx.existing else {
            return Ok(());
        };
        let key = format!(r"{PROFILE_LIST}\{}", existing.sid);
        let has = cx.host.key(MachineHive::Software, &key)?;
        let path = has.as_ref().and_then(|k| k.string("ProfileImagePath"));
        let ok = has.is_none() || cx.req.replace_existing_profile;
        c.add(
            "the existing account has no profile of its own",
            ok,
            match (&path, ok) {
                (None, _) if has.is_none() => format!("{} has no ProfileList entry", existing.name),
                (_, true) => format!(
                    "{} has a profile at {}; --replace-existing-profile: the migrated one \
                     replaces it in ProfileList (its folder stays)",
                    existing.name,
                    path.as_deref().unwrap_or("?")
                ),
                _ => format!(
                    "{} already has a profile at {}: migrating onto it would replace that \
                     profile's ProfileList entry. Use another account, or pass \
                     --replace-existing-profile",
                    existing.name,
                    path.as_deref().unwrap_or("?")
                ),
            },
        );
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let Some(edits) = self.edits(
            cx.host,
            cx.source,
            cx.new_sid,
            &cx.req.to,
            cx.req.set_default_user,
        )?
        else {
            return Ok(None);
        };
        let changes = changes(cx.host, &edits)?;
        Ok(Some(StepPlan {
            step: self.id(),
            summary: vec![format!(
                "{}: {} values set",
                match self.which {
                    Which::ProfileList => "ProfileList",
                    Which::MachineKeys => "per-user machine keys",
                    Which::LogonUi => "LogonUI",
                },
                changes.len()
            )],
            changes,
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let account = cx.account()?.clone();
        let Some(edits) = self.edits(
            cx.host,
            cx.source,
            &account.sid,
            &account.name,
            cx.req.set_default_user,
        )?
        else {
            return Ok(());
        };
        let inverse = inverse_edits(cx.host, MachineHive::Software, &edits)?;
        let backup = backup_machine_file(cx, MachineHive::Software, self.id().name())?;
        let intent = RegistryIntent {
            hive: MachineHive::Software,
            edits: edits.clone(),
            inverse,
            backup,
        };
        cx.intent(match self.which {
            Which::ProfileList => Intent::ProfileList(intent),
            Which::MachineKeys => Intent::MachineKeys(intent),
            Which::LogonUi => Intent::LogonUi(intent),
        })?;
        cx.host.apply(MachineHive::Software, &edits)?;
        let done = MachineFileDone {
            hash: machine_file_hash(cx.host, MachineHive::Software)?,
            aliases: Vec::new(),
            edits: edits.len(),
        };
        cx.done(match self.which {
            Which::ProfileList => Done::ProfileList(done),
            Which::MachineKeys => Done::MachineKeys(done),
            Which::LogonUi => Done::LogonUi(done),
        })
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        if let Some(intent) = self.intent(trace) {
            if intent.hive != MachineHive::Software {
                return Err(Error::Journal(format!(
                    "the {} step names the {} hive, which it never changes: the journal was \
                     edited; nothing was changed",
                    self.id(),
                    intent.hive.file_name()
                )));
            }
            for e in intent.edits.iter().chain(&intent.inverse) {
                check_edit_path(e)?;
            }
            if let Some(backup) = &intent.backup {
                crate::migrate::store::verify_backup(&cx.backups, backup)?;
            }
        }
        Ok(())
    }

    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        machine_file_undo_how(cx, MachineHive::Software, trace)
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        match how {
            UndoHow::Nothing => Ok(()),
            UndoHow::Restore => restore_machine_file(cx, MachineHive::Software, trace),
            UndoHow::Logical => {
                let Some(intent) = self.intent(trace) else {
                    return Ok(());
                };
                cx.host.apply(intent.hive, &intent.inverse)
            }
        }
    }

    fn touched_files(&self, cx: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        super::machine_file_touched(cx, MachineHive::Software)
    }
}

/// An inverse edit from the journal may only touch the keys these steps change.
fn check_edit_path(edit: &RegEdit) -> Result<()> {
    let path = edit.path();
    let lower = path.to_lowercase();
    let mut roots = vec![PROFILE_LIST, LOGON_UI];
    roots.extend(super::machine_keys::roots());
    let allowed = roots.iter().any(|k| {
        let k = k.to_lowercase();
        lower == k || lower.starts_with(&format!("{k}\\"))
    });
    if allowed {
        Ok(())
    } else {
        Err(Error::Journal(format!(
            "the journal's inverse edits touch {path}, which admu never changes: the journal \
             was edited; nothing was changed"
        )))
    }
}

/// The ProfileList changes: a key for the new SID with the old key's values, and the
/// old key's path marked `.ADMU`.
pub(crate) fn profile_list_edits(
    host: &dyn MigrationHost,
    source: &Profile,
    new_sid: &Sid,
) -> Result<Vec<RegEdit>> {
    let old_key = format!(r"{PROFILE_LIST}\{}", source.key);
    let new_key = format!(r"{PROFILE_LIST}\{new_sid}");
    let old = host
        .key(MachineHive::Software, &old_key)?
        .ok_or_else(|| Error::NotFound(format!("{old_key} vanished")))?;
    let mut edits = vec![RegEdit::CreateKey {
        path: new_key.clone(),
    }];
    for v in &old.values {
        let lower = v.name.to_ascii_lowercase();
        // Guid/ProfileGuid belong to the AD account; Sid, State and RefCount are reset.
        if matches!(lower.as_str(), "sid" | "state" | "refcount" | "guid") {
            continue;
        }
        edits.push(RegEdit::SetValue {
            path: new_key.clone(),
            name: v.name.clone(),
            kind: v.kind,
            data: v.data.clone(),
        });
    }
    edits.push(RegEdit::SetValue {
        path: new_key.clone(),
        name: "Sid".into(),
        kind: hive::value::types::BINARY,
        data: new_sid.to_bytes(),
    });
    for name in ["State", "RefCount"] {
        edits.push(RegEdit::SetValue {
            path: new_key.clone(),
            name: name.into(),
            kind: hive::value::types::DWORD,
            data: 0u32.to_le_bytes().to_vec(),
        });
    }
    if let Some(path) = old.string("ProfileImagePath") {
        edits.push(RegEdit::SetValue {
            path: old_key,
            name: "ProfileImagePath".into(),
            kind: old.value("ProfileImagePath").map_or(2, |v| v.kind),
            data: hive::value::encode_sz(&format!("{path}{MIGRATED_SUFFIX}")),
        });
    }
    Ok(edits)
}

/// The LogonUI changes that make the new account the last user at the logon screen.
pub(crate) fn logon_ui_edits(new_sid: &Sid, name: &str, computer: &str) -> Vec<RegEdit> {
    let set = |value: &str, text: &str| RegEdit::SetValue {
        path: LOGON_UI.into(),
        name: value.into(),
        kind: hive::value::types::SZ,
        data: hive::value::encode_sz(text),
    };
    vec![
        RegEdit::CreateKey {
            path: LOGON_UI.into(),
        },
        set("LastLoggedOnUser", &format!(r".\{name}")),
        set("LastLoggedOnSAMUser", &format!(r"{computer}\{name}")),
        set("LastLoggedOnUserSID", &new_sid.to_string()),
        set("LastLoggedOnDisplayName", name),
        set("SelectedUserSID", &new_sid.to_string()),
        RegEdit::CreateKey {
            path: format!(r"{LOGON_UI}\UserTile"),
        },
        RegEdit::SetValue {
            path: format!(r"{LOGON_UI}\UserTile"),
            name: new_sid.to_string(),
            kind: hive::value::types::SZ,
            data: hive::value::encode_sz(PASSWORD_PROVIDER),
        },
    ]
}

/// The edit that gives value `name` of `path` back what it holds now (or removes it,
/// when it is not there).
pub(crate) fn value_inverse(
    host: &dyn Registry,
    which: MachineHive,
    path: &str,
    name: &str,
) -> Result<RegEdit> {
    let old = host.key(which, path)?.and_then(|k| k.value(name).cloned());
    Ok(match old {
        Some(v) => RegEdit::SetValue {
            path: path.to_owned(),
            name: v.name,
            kind: v.kind,
            data: v.data,
        },
        None => RegEdit::DeleteValue {
            path: path.to_owned(),
            name: name.to_owned(),
        },
    })
}

/// The edits that put back what `edits` change, computed from the current state.
pub(crate) fn inverse_edits(
    host: &dyn Registry,
    which: MachineHive,
    edits: &[RegEdit],
) -> Result<Vec<RegEdit>> {
    let mut inverse = Vec::new();
    for e in edits {
        match e {
            RegEdit::CreateKey { path } => {
                if host.key(which, path)?.is_none() {
                    inverse.push(RegEdit::DeleteKey { path: path.clone() });
                }
            }
            RegEdit::SetValue { path, name, .. } | RegEdit::DeleteValue { path, name } => {
                inverse.push(value_inverse(host, which, path, name)?);
            }
            RegEdit::RenameKey { path, new_name } => {
                let (parent, old_name) = path.rsplit_once('\\').unwrap_or(("", path));
                let renamed = if parent.is_empty() {
                    new_name.clone()
                } else {
                    format!(r"{parent}\{new_name}")
                };
                inverse.push(RegEdit::RenameKey {
                    path: renamed,
                    new_name: old_name.to_string(),
                });
            }
            RegEdit::DeleteKey { path } => {
                return Err(Error::Invalid(format!(
                    "deleting {path} cannot be journaled"
                )));
            }
            RegEdit::SetKeySecurity { path, .. } => {
                // The descriptor steps journal the old descriptor themselves.
                return Err(Error::Invalid(format!(
                    "the descriptor of {path} is journaled by the machine_security step"
                )));
            }
        }
    }
    // Undo in reverse: values before the keys they live in are deleted.
    inverse.reverse();
    Ok(inverse)
}

fn show(kind: u32, data: &[u8]) -> String {
    match hive::value::decode(kind, data) {
        hive::Data::String(s) | hive::Data::ExpandString(s) => s,
        hive::Data::Dword(d) => format!("{d:#x}"),
        hive::Data::Bytes(b) if kind == 3 && b.len() >= 8 => Sid::from_bytes(&b)
            .map(|(s, _)| format!("SID {s}"))
            .unwrap_or_else(|_| crate::host::to_hex(&b)),
        other => format!("{other:?}"),
    }
}

fn changes(host: &dyn MigrationHost, edits: &[RegEdit]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    for e in edits {
        if let RegEdit::SetValue {
            path,
            name,
            kind,
            data,
        } = e
        {
            let before = host
                .key(MachineHive::Software, path)?
                .and_then(|k| k.value(name).map(|v| show(v.kind, &v.data)));
            out.push(Change {
                key: path.clone(),
                value: name.clone(),
                before,
                after: Some(show(*kind, data)),
            });
        }
    }
    Ok(out)
}
