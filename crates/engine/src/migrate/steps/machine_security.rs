//! Steps: the old SID's security state in the machine hives, outside the profile.
//!
//! - `user_rights`: the LSA account object `Policy\Accounts\<old SID>` in SECURITY (the
//!   user rights and privileges granted to the SID) is **copied** to the new SID, its
//!   `Sid` attribute set to the new SID, `ActSysAc`, `Privilgs` and `SecDesc` as they were
//!   (steps/user_rights.rs). The old object is kept, like the directory-identity keys of
//!   `machine_keys`: rights granted to a domain SID often come from domain Group Policy,
//!   the domain account still exists and keeps them while the machine is joined, and a
//!   revert or a return to the domain finds them as they were; once the machine leaves
//!   the domain no token carries that SID, so they grant nothing to anyone.
//! - `software_descriptors`, `system_descriptors`, `security_descriptors`: every key
//!   descriptor (sk cell) of that hive that names the old SID (owner, group, DACL or SACL)
//!   is translated as the profile's are (the request's SID map and ACL mode), key by key,
//!   with the old descriptor journaled as the inverse. Keys kept on purpose for the old
//!   SID (the copied `machine_keys` originals, the old account object) are left as they
//!   are. SAM is not scanned: the account and groups steps own it, and a domain SID names
//!   no SAM key's descriptor.
//!
//! Offline only: they change hive files (with a hashed backup). On a live system the
//! machine hives are loaded, and these steps have nothing they can do (a plan note says
//! so; docs/windows-verification.md).

use std::collections::HashMap;
use std::path::Path;

use ntsec::{Mode, SecurityDescriptor, Sid, SidMap};

use super::{
    CheckContext, PlanContext, RunContext, Step, StepPlan, Trace, UndoContext, backup_machine_file,
    machine_file_hash, machine_file_undo_how, restore_machine_file,
};
use crate::error::{Error, Result};
use crate::host::{MachineHive, MigrationHost, RegEdit};
use crate::journal::record::{Done, Intent, MachineFileDone, RegistryIntent, StepId, UndoHow};
use crate::migrate::preflight::Checks;

use super::user_rights::{ACCOUNTS, describe, user_rights_edits};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    UserRights,
    Descriptors(MachineHive),
}

pub(crate) struct MachineSecurityStep {
    which: Which,
}

impl MachineSecurityStep {
    pub(crate) const USER_RIGHTS: MachineSecurityStep = MachineSecurityStep {
        which: Which::UserRights,
    };
    pub(crate) const SOFTWARE: MachineSecurityStep = MachineSecurityStep {
        which: Which::Descriptors(MachineHive::Software),
    };
    pub(crate) const SYSTEM: MachineSecurityStep = MachineSecurityStep {
        which: Which::Descriptors(MachineHive::System),
    };
    pub(crate) const SECURITY: MachineSecurityStep = MachineSecurityStep {
        which: Which::Descriptors(MachineHive::Security),
    };

    fn hive(&self) -> MachineHive {
        match self.which {
            Which::UserRights => MachineHive::Security,
            Which::Descriptors(h) => h,
        }
    }

    /// The edits and their inverse, or `None` when there is nothing to do (or the hive
    /// is not a file: live).
    fn work(
        &self,
        host: &dyn MigrationHost,
        old: &Sid,
        new: &Sid,
        map: &SidMap,
        mode: Mode,
    ) -> Result<Option<Work>> {
        let which = self.hive();
        let Some(file) = host.machine_hive_file(which) else {
            return Ok(None);
        };
        let work = match self.which {
            Which::UserRights => {
                let edits = user_rights_edits(host, old, new)?;
                let inverse = super::registry::inverse_edits(host, which, &edits)?;
                Work { edits, inverse }
            }
            Which::Descriptors(h) => descriptor_edits(&file, h, old, map, mode)?,
        };
        Ok((!work.edits.is_empty()).then_some(work))
    }

    fn wrap_intent(&self, i: RegistryIntent) -> Intent {
        match self.which {
            Which::UserRights => Intent::UserRights(i),
            Which::Descriptors(MachineHive::Software) => Intent::SoftwareDescriptors(i),
            Which::Descriptors(MachineHive::System) => Intent::SystemDescriptors(i),
            Which::Descriptors(_) => Intent::SecurityDescriptors(i),
        }
    }

    fn wrap_done(&self, d: MachineFileDone) -> Done {
        match self.which {
            Which::UserRights => Done::UserRights(d),
            Which::Descriptors(MachineHive::Software) => Done::SoftwareDescriptors(d),
            Which::Descriptors(MachineHive::System) => Done::SystemDescriptors(d),
            Which::Descriptors(_) => Done::SecurityDescriptors(d),
        }
    }

    fn intent<'t>(&self, trace: &Trace<'t>) -> Option<&'t RegistryIntent> {
        match (self.id(), trace.intent?) {
            (StepId::UserRights, Intent::UserRights(i))
            | (StepId::SoftwareDescriptors, Intent::SoftwareDescriptors(i))
            | (StepId::SystemDescriptors, Intent::SystemDescriptors(i))
            | (StepId::SecurityDescriptors, Intent::SecurityDescriptors(i)) => Some(i),
            _ => None,
        }
    }

    /// What the journal's edits may be: the new account's object (`account`, the key
    /// `Policy\Accounts\<new SID>`, lower case) and what is below it for the rights,
    /// descriptors (that parse) for the others.
    fn check_edit(&self, edit: &RegEdit, account: Option<&str>) -> Result<()> {
        let ok = match (self.which, edit) {
            (Which::UserRights, e) => {
                let lower = e.path().to_lowercase();
                account.is_some_and(|a| is_below(&lower, &[a.to_owned()]))
                    && !matches!(
                        e,
                        RegEdit::SetKeySecurity { .. } | RegEdit::RenameKey { .. }
                    )
            }
            (Which::Descriptors(_), RegEdit::SetKeySecurity { descriptor, .. }) => {
                SecurityDescriptor::from_bytes(descriptor).is_ok()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Journal(format!(
                "the {} step's journal holds an edit of {} it never makes: the journal was \
                 edited; nothing was changed",
                self.id(),
                edit.path()
            )))
        }
    }
}

/// A step's edits and the edits that undo them.
struct Work {
    edits: Vec<RegEdit>,
    inverse: Vec<RegEdit>,
}

/// Keys kept for the old SID on purpose: their descriptors stay as they are.
fn kept_on_purpose(hive: MachineHive, old: &Sid) -> Vec<String> {
    let mut kept = Vec::new();
    match hive {
        MachineHive::Software => kept.extend(
            super::machine_keys::SID_NAMED_COPIED
                .iter()
                .map(|p| format!(r"{p}\{old}").to_lowercase()),
        ),
        MachineHive::Security => kept.push(format!(r"{ACCOUNTS}\{old}").to_lowercase()),
        _ => {}
    }
    kept
}

/// The inverse of a descriptor step sets the same keys its edits set, no others.
fn same_keys(step: StepId, edits: &[RegEdit], inverse: &[RegEdit]) -> Result<()> {
    let keys = |list: &[RegEdit]| {
        let mut k: Vec<String> = list.iter().map(|e| e.path().to_lowercase()).collect();
        k.sort();
        k
    };
    if keys(edits) == keys(inverse) {
        Ok(())
    } else {
        Err(Error::Journal(format!(
            "the {step} step's undo sets keys its edits never set: the journal was edited;              nothing was changed"
        )))
    }
}

fn is_below(path: &str, roots: &[String]) -> bool {
    let lower = path.to_lowercase();
    roots.iter().any(|r| {
        lower == *r
            || lower
                .strip_prefix(r.as_str())
                .is_some_and(|t| t.starts_with('\\'))
    })
}

/// Every key of a machine hive file whose descriptor names `old`: the edit giving it the
/// translated descriptor, and the inverse giving back the one it has.
fn descriptor_edits(
    file: &Path,
    which: MachineHive,
    old: &Sid,
    map: &SidMap,
    mode: Mode,
) -> Result<Work> {
    let wrap = |source| Error::Hive {
        path: file.to_path_buf(),
        source,
    };
    let hive = hive::Hive::open(file).map_err(wrap)?;
    // Each sk cell naming the old SID, with its translation (parsed once per cell).
    let mut cells: HashMap<u32, (Vec<u8>, Vec<u8>)> = HashMap::new();
    for sk in hive.security_cells().map_err(wrap)? {
        let sd = sk.descriptor();
        let names = SecurityDescriptor::from_bytes(sd)
            .map(|d| d.sids().any(|s| s == old))
            .unwrap_or(false);
        if !names {
            continue;
        }
        let translated = ntsec::translate_bytes(sd, map, mode).map_err(|e| {
            Error::Invalid(format!(
                "{}: a key descriptor naming {old} cannot be translated: {e}",
                which.file_name()
            ))
        })?;
        if let Some(new) = translated {
            cells.insert(sk.offset(), (sd.to_vec(), new));
        }
    }
    let mut work = Work {
        edits: Vec::new(),
        inverse: Vec::new(),
    };
    if cells.is_empty() {
        return Ok(work);
    }
    let kept = kept_on_purpose(which, old);
    let mut stack = vec![(hive.root().map_err(wrap)?, String::new())];
    while let Some((key, path)) = stack.pop() {
        if is_below(&path, &kept) {
            continue;
        }
        if let Some((before, after)) = cells.get(&key.security_offset()) {
            work.edits.push(RegEdit::SetKeySecurity {
                path: path.clone(),
                descriptor: after.clone(),
            });
            work.inverse.push(RegEdit::SetKeySecurity {
                path: path.clone(),
                descriptor: before.clone(),
            });
        }
        for sub in key.subkeys().map_err(wrap)? {
            let p = if path.is_empty() {
                sub.name()
            } else {
                format!(r"{path}\{}", sub.name())
            };
            stack.push((sub, p));
        }
    }
    work.inverse.reverse();
    Ok(work)
}

impl Step for MachineSecurityStep {
    fn id(&self) -> StepId {
        match self.which {
            Which::UserRights => StepId::UserRights,
            Which::Descriptors(MachineHive::Software) => StepId::SoftwareDescriptors,
            Which::Descriptors(MachineHive::System) => StepId::SystemDescriptors,
            Which::Descriptors(_) => StepId::SecurityDescriptors,
        }
    }

    fn check(&self, _: &CheckContext<'_>, _: &mut Checks) -> Result<()> {
        Ok(())
    }

    fn plan(&self, cx: &PlanContext<'_>) -> Result<Option<StepPlan>> {
        let which = self.hive();
        if cx.host.machine_hive_file(which).is_none() {
            return Ok(Some(StepPlan {
                step: self.id(),
                summary: vec![format!(
                    "{}: not changed on a live system (offline only); `admu sids` lists \
                     what names the old SID there",
                    which.file_name()
                )],
                changes: Vec::new(),
                report: None,
            }));
        }
        let Some(work) = self.work(cx.host, cx.old_sid, cx.new_sid, cx.map, cx.req.acl_mode)?
        else {
            return Ok(None);
        };
        let summary = match self.which {
            Which::UserRights => {
                let rights = describe(cx.host, cx.old_sid)?;
                vec![format!(
                    r"SECURITY: {ACCOUNTS}\{} copied to {} ({}); the old account object is \
                     kept",
                    cx.old_sid,
                    cx.new_sid,
                    if rights.is_empty() {
                        "no rights".to_string()
                    } else {
                        rights.join(", ")
                    }
                )]
            }
            Which::Descriptors(h) => {
                let mut lines = vec![format!(
                    "{}: {} key descriptors naming {} translated",
                    h.file_name(),
                    work.edits.len(),
                    cx.old_sid
                )];
                lines.extend(
                    work.edits
                        .iter()
                        .take(20)
                        .map(|e| format!("  {}", e.path())),
                );
                if work.edits.len() > 20 {
                    lines.push(format!("  … and {} more", work.edits.len() - 20));
                }
                lines
            }
        };
        Ok(Some(StepPlan {
            step: self.id(),
            summary,
            changes: Vec::new(),
            report: None,
        }))
    }

    fn apply(&self, cx: &mut RunContext<'_>) -> Result<()> {
        let new = cx.account()?.sid.clone();
        let map = cx.sid_map()?;
        let old = cx.begin.old_sid.clone();
        let Some(work) = self.work(cx.host, &old, &new, &map, cx.req.acl_mode)? else {
            return Ok(());
        };
        let which = self.hive();
        let backup = backup_machine_file(cx, which, self.id().name())?;
        cx.intent(self.wrap_intent(RegistryIntent {
            hive: which,
            edits: work.edits.clone(),
            inverse: work.inverse,
            backup,
        }))?;
        cx.host.apply(which, &work.edits)?;
        let done = MachineFileDone {
            hash: machine_file_hash(cx.host, which)?,
            aliases: Vec::new(),
            edits: work.edits.len(),
        };
        cx.done(self.wrap_done(done))
    }

    fn verify(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<()> {
        let Some(intent) = self.intent(trace) else {
            return Ok(());
        };
        if intent.hive != self.hive() {
            return Err(Error::Journal(format!(
                "the {} step names the {} hive, which it never changes: the journal was \
                 edited; nothing was changed",
                self.id(),
                intent.hive.file_name()
            )));
        }
        let account = cx
            .new_sid
            .as_ref()
            .map(|sid| format!(r"{ACCOUNTS}\{sid}").to_lowercase());
        for e in intent.edits.iter().chain(&intent.inverse) {
            self.check_edit(e, account.as_deref())?;
        }
        if matches!(self.which, Which::Descriptors(_)) {
            same_keys(self.id(), &intent.edits, &intent.inverse)?;
        }
        if cx.host.machine_hive_file(self.hive()).is_none() && !intent.edits.is_empty() {
            // Made offline; live, Windows holds the hive (and LSA its copy of SECURITY).
            return Err(Error::Refused(format!(
                "this migration changed the {} hive offline (the volume mounted on another                  system); it cannot be undone while that Windows runs. Revert it the same                  way: mount the volume and run admu revert --root VOLUME. Nothing was changed",
                intent.hive.file_name()
            )));
        }
        match &intent.backup {
            Some(b) => crate::migrate::store::verify_backup(&cx.backups, b),
            None => Ok(()),
        }
    }

    fn undo_how(&self, cx: &UndoContext<'_>, trace: &Trace<'_>) -> Result<UndoHow> {
        machine_file_undo_how(cx, self.hive(), trace)
    }

    fn undo(&self, cx: &mut UndoContext<'_>, trace: &Trace<'_>, how: UndoHow) -> Result<()> {
        match how {
            UndoHow::Nothing => Ok(()),
            UndoHow::Restore => restore_machine_file(cx, self.hive(), trace),
            UndoHow::Logical => match self.intent(trace) {
                Some(intent) => cx.host.apply(intent.hive, &intent.inverse),
                None => Ok(()),
            },
        }
    }

    fn touched_files(&self, cx: &UndoContext<'_>, _: &Trace<'_>) -> Vec<std::path::PathBuf> {
        super::machine_file_touched(cx, self.hive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_keys_are_matched_below_their_root_only() {
        let old: Sid = "S-1-5-21-1-2-3-1103".parse().expect("SID");
        let kept = kept_on_purpose(MachineHive::Security, &old);
        assert!(is_below(r"Policy\Accounts\S-1-5-21-1-2-3-1103", &kept));
        assert!(is_below(r"policy\accounts\S-1-5-21-1-2-3-1103\Sid", &kept));
        assert!(!is_below(r"Policy\Accounts\S-1-5-21-1-2-3-11030", &kept));
        assert!(!is_below(r"Policy\Accounts", &kept));
        let sw = kept_on_purpose(MachineHive::Software, &old);
        assert!(is_below(
            r"Microsoft\IdentityStore\Cache\S-1-5-21-1-2-3-1103\IdentityCache",
            &sw
        ));
        assert!(kept_on_purpose(MachineHive::System, &old).is_empty());
    }

    #[test]
    fn a_descriptor_undo_sets_only_the_keys_its_edits_set() {
        let set = |path: &str| RegEdit::SetKeySecurity {
            path: path.into(),
            descriptor: Vec::new(),
        };
        let edits = [set(r"Contoso\A"), set(r"Contoso\B")];
        assert!(
            same_keys(
                StepId::SoftwareDescriptors,
                &edits,
                &[set(r"contoso\b"), set(r"Contoso\A")]
            )
            .is_ok()
        );
        assert!(
            same_keys(
                StepId::SoftwareDescriptors,
                &edits,
                &[set(r"Contoso\A"), set(r"Policy\Accounts\S-1-1-0")]
            )
            .is_err()
        );
    }
}
