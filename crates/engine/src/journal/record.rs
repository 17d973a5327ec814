//! The journal's records, as types: one enum for every line a migration, a rollback or
//! a revert writes, and one payload type per step. The JSON of each line is
//! `{"seq":…,"time":…,"phase":…}` plus the fields of its phase (and `"step"` for the
//! phases of a step), so a person can read the journal and a program cannot confuse
//! one record with another.

use ntsec::{Mode, Sid, SidMap};
use serde::{Deserialize, Serialize};

use crate::convert::ConversionReport;
use crate::host::{MachineHive, RegEdit};

/// The journal format this build writes and reads.
pub const FORMAT: u32 = 2;

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3 …: a gap or a repeat means the journal was edited.
    pub seq: u64,
    /// FILETIME when it was written.
    pub time: u64,
    #[serde(flatten)]
    pub entry: Entry,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Entry {
    /// The migration starts: everything needed to undo it later, without the request.
    Begin(Begin),
    /// A step is about to change something; its backups are taken and hashed.
    Intent(Intent),
    /// A step finished.
    Done(Done),
    /// Every step finished: the migration is complete.
    Commit(Commit),
    /// An undo (rollback of an unfinished migration, or revert of a complete one)
    /// passed its checks and starts changing things.
    UndoBegin { kind: UndoKind },
    /// How one step is about to be undone; a repeated undo does it the same way.
    UndoIntent { step: StepId, how: UndoHow },
    /// One step is undone.
    Undone { step: StepId },
    /// The undo finished: the machine is as before the migration.
    UndoEnd { kind: UndoKind },
    /// The journal had no usable first record and nothing had changed: closed.
    Abandoned { reason: String },
    /// After the commit: something done once the migration stood (leaving the domain,
    /// lifting the logon block, scheduling the restart), and how it went. These never
    /// roll the migration back.
    After {
        action: AfterAction,
        ok: bool,
        detail: String,
    },
}

/// What runs after the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterAction {
    /// The old account may log on again (`--block-logon` is lifted).
    ReleaseLogon,
    LeaveEntra,
    LeaveAdDomain,
    /// The device manager (JumpCloud) bound the user to this device.
    Bind,
    Reboot,
}

/// The steps of a migration, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepId {
    BlockLogon,
    Account,
    Groups,
    Ntuser,
    Usrclass,
    Dpapi,
    Tree,
    OutsideProfile,
    ProfileList,
    MachineKeys,
    LogonUi,
    /// The old SID's user rights (SECURITY `Policy\Accounts\<SID>`), copied to the new.
    UserRights,
    /// Key descriptors naming the old SID in a machine hive (steps/machine_security.rs).
    SoftwareDescriptors,
    SystemDescriptors,
    SecurityDescriptors,
    /// `--sweep-files`: file descriptors naming the old SID outside the profile.
    SweepFiles,
    /// `--remove-mdm`: non-JumpCloud MDM enrollments (steps/mdm.rs).
    Mdm,
    /// `--remove-hello`: the old SID's Windows Hello containers (steps/hello.rs).
    Hello,
}

impl StepId {
    /// The name used in the journal and in messages.
    pub fn name(self) -> &'static str {
        match self {
            StepId::BlockLogon => "block_logon",
            StepId::Account => "account",
            StepId::Groups => "groups",
            StepId::Ntuser => "ntuser",
            StepId::Usrclass => "usrclass",
            StepId::Dpapi => "dpapi",
            StepId::Tree => "tree",
            StepId::OutsideProfile => "outside_profile",
            StepId::ProfileList => "profile_list",
            StepId::MachineKeys => "machine_keys",
            StepId::LogonUi => "logon_ui",
            StepId::UserRights => "user_rights",
            StepId::SoftwareDescriptors => "software_descriptors",
            StepId::SystemDescriptors => "system_descriptors",
            StepId::SecurityDescriptors => "security_descriptors",
            StepId::SweepFiles => "sweep_files",
            StepId::Mdm => "mdm",
            StepId::Hello => "hello",
        }
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoKind {
    /// Of a migration that did not commit (failed or interrupted).
    Rollback,
    /// Of a committed migration, asked for by `admu revert`.
    Revert,
}

/// How a step is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoHow {
    /// The change is not there (never made, or already undone).
    Nothing,
    /// The files are put back from their backups (they still hold what admu wrote).
    Restore,
    /// Windows used the files since: the change is inverted in place.
    Logical,
}

/// The first record of a migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Begin {
    pub format: u32,
    pub id: String,
    pub from: String,
    pub to: String,
    pub old_sid: Sid,
    /// The ProfileList key (`<SID>` or `<SID>.bak`).
    pub profile_key: String,
    /// The profile folder as Windows names it (`C:\Users\alice`).
    pub profile_path: String,
    /// Paths relative to the volume root (a recovery may see another mount point).
    pub profile_folder: String,
    pub ntuser: String,
    pub usrclass: String,
    pub to_existing: bool,
    pub acl_mode: Mode,
    pub extra_map: SidMap,
    pub admu_version: String,
}

/// A file's backup, hashed when taken and checked before it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// The folder under the journal's `backup\` that holds the copies.
    pub dir: String,
    /// The primary file first, then its logs.
    pub files: Vec<BackupFile>,
}

/// One copied file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    pub name: String,
    pub len: u64,
    pub sha256: String,
}

/// A step about to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Intent {
    BlockLogon(BlockLogonIntent),
    Account(AccountIntent),
    Groups(GroupsIntent),
    Ntuser(HiveIntent),
    Usrclass(HiveIntent),
    Dpapi(DpapiIntent),
    Tree(TreeIntent),
    OutsideProfile(OutsideIntent),
    ProfileList(RegistryIntent),
    MachineKeys(RegistryIntent),
    LogonUi(RegistryIntent),
    UserRights(RegistryIntent),
    SoftwareDescriptors(RegistryIntent),
    SystemDescriptors(RegistryIntent),
    SecurityDescriptors(RegistryIntent),
    SweepFiles(SweepIntent),
    Mdm(MdmIntent),
    Hello(HelloIntent),
}

/// A step that finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Done {
    BlockLogon(BlockLogonDone),
    Account(AccountDone),
    Groups(MachineFileDone),
    Ntuser(HiveDone),
    Usrclass(HiveDone),
    Dpapi(DpapiDone),
    Tree(TreeDone),
    OutsideProfile(OutsideDone),
    ProfileList(MachineFileDone),
    MachineKeys(MachineFileDone),
    LogonUi(MachineFileDone),
    UserRights(MachineFileDone),
    SoftwareDescriptors(MachineFileDone),
    SystemDescriptors(MachineFileDone),
    SecurityDescriptors(MachineFileDone),
    SweepFiles(SweepDone),
    Mdm(MdmDone),
    Hello(HelloDone),
}

impl Intent {
    pub fn step(&self) -> StepId {
        match self {
            Intent::BlockLogon(_) => StepId::BlockLogon,
            Intent::Account(_) => StepId::Account,
            Intent::Groups(_) => StepId::Groups,
            Intent::Ntuser(_) => StepId::Ntuser,
            Intent::Usrclass(_) => StepId::Usrclass,
            Intent::Dpapi(_) => StepId::Dpapi,
            Intent::Tree(_) => StepId::Tree,
            Intent::OutsideProfile(_) => StepId::OutsideProfile,
            Intent::ProfileList(_) => StepId::ProfileList,
            Intent::MachineKeys(_) => StepId::MachineKeys,
            Intent::LogonUi(_) => StepId::LogonUi,
            Intent::UserRights(_) => StepId::UserRights,
            Intent::SoftwareDescriptors(_) => StepId::SoftwareDescriptors,
            Intent::SystemDescriptors(_) => StepId::SystemDescriptors,
            Intent::SecurityDescriptors(_) => StepId::SecurityDescriptors,
            Intent::SweepFiles(_) => StepId::SweepFiles,
            Intent::Mdm(_) => StepId::Mdm,
            Intent::Hello(_) => StepId::Hello,
        }
    }

    /// The backup this step took, if any.
    pub fn backup(&self) -> Option<&Backup> {
        match self {
            Intent::BlockLogon(_) => None,
            Intent::Account(i) => i.sam_backup.as_ref(),
            Intent::Groups(i) => i.sam_backup.as_ref(),
            Intent::Ntuser(i) | Intent::Usrclass(i) => Some(&i.backup),
            Intent::Dpapi(i) => i.credhist_backup.as_ref(),
            Intent::Tree(_) | Intent::OutsideProfile(_) => None,
            Intent::ProfileList(i) | Intent::MachineKeys(i) | Intent::LogonUi(i) => {
                i.backup.as_ref()
            }
            Intent::UserRights(i)
            | Intent::SoftwareDescriptors(i)
            | Intent::SystemDescriptors(i)
            | Intent::SecurityDescriptors(i) => i.backup.as_ref(),
            Intent::SweepFiles(_) => None,
            Intent::Mdm(i) => i.backup.as_ref(),
            Intent::Hello(_) => None,
        }
    }
}

impl Done {
    pub fn step(&self) -> StepId {
        match self {
            Done::BlockLogon(_) => StepId::BlockLogon,
            Done::Account(_) => StepId::Account,
            Done::Groups(_) => StepId::Groups,
            Done::Ntuser(_) => StepId::Ntuser,
            Done::Usrclass(_) => StepId::Usrclass,
            Done::Dpapi(_) => StepId::Dpapi,
            Done::Tree(_) => StepId::Tree,
            Done::OutsideProfile(_) => StepId::OutsideProfile,
            Done::ProfileList(_) => StepId::ProfileList,
            Done::MachineKeys(_) => StepId::MachineKeys,
            Done::LogonUi(_) => StepId::LogonUi,
            Done::UserRights(_) => StepId::UserRights,
            Done::SoftwareDescriptors(_) => StepId::SoftwareDescriptors,
            Done::SystemDescriptors(_) => StepId::SystemDescriptors,
            Done::SecurityDescriptors(_) => StepId::SecurityDescriptors,
            Done::SweepFiles(_) => StepId::SweepFiles,
            Done::Mdm(_) => StepId::Mdm,
            Done::Hello(_) => StepId::Hello,
        }
    }

    /// The SHA-256 of the machine hive file after the step, where it changed one.
    pub fn machine_hash(&self) -> Option<&str> {
        match self {
            Done::Account(d) => d.sam_hash.as_deref(),
            Done::Groups(d) | Done::ProfileList(d) | Done::MachineKeys(d) | Done::LogonUi(d) => {
                d.hash.as_deref()
            }
            Done::Mdm(d) => d.hash.as_deref(),
            Done::UserRights(d)
            | Done::SoftwareDescriptors(d)
            | Done::SystemDescriptors(d)
            | Done::SecurityDescriptors(d) => d.hash.as_deref(),
            _ => None,
        }
    }

    /// One line for people: what the step did.
    pub fn summary(&self) -> String {
        match self {
            Done::BlockLogon(d) => format!(
                "{} may not log on interactively until the migration ends",
                d.sid
            ),
            Done::Account(d) => format!("created local account {} ({})", d.name, d.sid),
            Done::Groups(d) => format!("added to local groups {:?}", d.aliases),
            Done::Ntuser(d) | Done::Usrclass(d) => format!(
                "{} security cells, {} UserChoice hashes, {} values, {} keys renamed{}",
                d.report.security.cells_changed,
                d.report.user_choice_rehashed,
                d.report.values_rewritten.len(),
                d.report.keys_renamed.len(),
                if d.report.root_renamed {
                    ", root renamed"
                } else {
                    ""
                }
            ),
            Done::Dpapi(d) => format!(
                "{} DPAPI master keys re-protected for the new account in {}{}",
                d.keys,
                d.folder,
                if d.left_behind.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} left behind: {})",
                        d.left_behind.len(),
                        d.left_behind.join(", ")
                    )
                }
            ),
            Done::Tree(d) => format!(
                "{} entries seen, {} descriptors changed, {} failed",
                d.report.seen, d.report.changed, d.report.errors_total
            ),
            Done::OutsideProfile(d) => format!(
                "{} renamed (recycle bin, tasks), {} task files rewritten, {} descriptors",
                d.renamed, d.rewritten, d.descriptors
            ),
            Done::ProfileList(d) | Done::MachineKeys(d) | Done::LogonUi(d) => {
                format!("{} registry changes", d.edits)
            }
            Done::UserRights(d) => format!("{} registry changes (user rights)", d.edits),
            Done::SoftwareDescriptors(d)
            | Done::SystemDescriptors(d)
            | Done::SecurityDescriptors(d) => format!("{} key descriptors translated", d.edits),
            Done::SweepFiles(d) => format!(
                "{} files and folders outside the profile seen, {} descriptors translated, {} \
                 failed",
                d.seen, d.changed, d.failed
            ),
            Done::Mdm(d) => format!(
                "{} MDM enrollments removed ({}): {} registry changes, {} task folders and \
                 {} certificates moved out or deleted",
                d.removed.len(),
                d.removed.join(", "),
                d.edits,
                d.task_folders,
                d.certificates
            ),
            Done::Hello(d) => format!(
                "{} Windows Hello containers of the old SID moved into the journal's backup",
                d.containers
            ),
        }
    }
}

/// Denying the old account interactive logon for the duration (`--block-logon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLogonIntent {
    pub sid: Sid,
    /// It was denied already (by policy): admu leaves it so at the end.
    pub already_denied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLogonDone {
    pub sid: Sid,
}

/// Creating the local account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIntent {
    pub name: String,
    /// The SAM before the change (offline only: a live SAM is not a file).
    pub sam_backup: Option<Backup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDone {
    pub rid: u32,
    pub sid: Sid,
    pub name: String,
    pub sam_hash: Option<String>,
}

/// Adding the new account to local groups (builtin aliases, by RID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsIntent {
    pub sid: Sid,
    pub aliases: Vec<u32>,
    pub sam_backup: Option<Backup>,
}

/// A step that changed a machine hive: the file's hash after it (offline), so an undo
/// can tell whether anything else changed the file since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineFileDone {
    pub hash: Option<String>,
    #[serde(default)]
    pub aliases: Vec<u32>,
    #[serde(default)]
    pub edits: usize,
}

/// Converting one user hive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiveIntent {
    /// Relative to the volume root.
    pub file: String,
    pub backup: Backup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HiveDone {
    pub file: String,
    pub sha256: String,
    pub report: ConversionReport,
}

/// Rewriting the profile tree's descriptors; every rewrite is logged (old and new
/// descriptor) in the descriptor log before the file changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeIntent {
    /// The profile folder, relative to the volume root.
    pub folder: String,
    /// The descriptor log's file name in the backup folder.
    pub log: String,
    /// The new SID appeared nowhere before (a new account): files that name it were
    /// changed by admu, so entries lost with the log's unsynced tail can be found again.
    pub sid_is_new: bool,
    pub new_sid: Sid,
    pub mode: Mode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeDone {
    pub report: ntsec::TreeReport,
    /// Entries in the descriptor log.
    pub logged: u64,
}

/// Carrying the DPAPI master keys: the new `Protect\<new SID>` folder and the files
/// written in it (the old folder is left untouched), and the replaced `CREDHIST`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpapiIntent {
    /// The new folder, relative to the volume root.
    pub folder: String,
    /// The files about to be created in it, relative to the volume root.
    pub files: Vec<String>,
    /// `Protect\CREDHIST`, relative to the volume root.
    pub credhist: String,
    /// Its content before (`None`: there was none, the step creates it).
    pub credhist_backup: Option<Backup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpapiDone {
    pub folder: String,
    pub keys: usize,
    /// GUIDs of the master keys that did not open (`--dpapi-partial`).
    #[serde(default)]
    pub left_behind: Vec<String>,
}

/// Changing machine registry values (ProfileList, LogonUI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryIntent {
    pub hive: MachineHive,
    pub edits: Vec<RegEdit>,
    /// The edits that put back what `edits` change, read before the change.
    pub inverse: Vec<RegEdit>,
    pub backup: Option<Backup>,
}

/// The user's files outside the profile (recycle bin, task XML).
/// A rename, volume-relative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// A task file rewritten: where it is before the step, and its backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rewrite {
    pub file: String,
    pub backup: Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideIntent {
    pub renames: Vec<Rename>,
    pub rewrites: Vec<Rewrite>,
    /// Volume-relative places whose descriptors the log may name.
    pub places: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideDone {
    pub renamed: usize,
    pub rewritten: usize,
    pub descriptors: u64,
}

/// A file or folder moved into the journal's backup folder instead of being deleted
/// (kept there, with its descriptor, for revert and recover).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    /// Where it was, relative to the volume root.
    pub from: String,
    /// Where it is, relative to the journal's `backup` folder (`label\name`).
    pub to: String,
    /// Every file in it (relative to it, `\`-separated; `""` for a moved file), hashed
    /// when it was moved.
    pub files: Vec<BackupFile>,
}

/// Removing MDM enrollments (`--remove-mdm`): SOFTWARE edits with their inverse (as the
/// registry steps journal them) and the EnterpriseMgmt task folders moved out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MdmIntent {
    /// The enrollment GUIDs removed, with their providers (`GUID (provider)`).
    pub enrollments: Vec<String>,
    pub hive: MachineHive,
    pub edits: Vec<RegEdit>,
    pub inverse: Vec<RegEdit>,
    pub backup: Option<Backup>,
    pub moves: Vec<Moved>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MdmDone {
    pub hash: Option<String>,
    pub removed: Vec<String>,
    pub edits: usize,
    pub task_folders: usize,
    pub certificates: usize,
}

/// Clearing the old SID's Windows Hello (NGC) containers (`--remove-hello`): moved into
/// the journal's backup folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloIntent {
    pub sid: Sid,
    pub moves: Vec<Moved>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloDone {
    pub containers: usize,
}

/// `--sweep-files`: translating file descriptors outside the profile; every rewrite is
/// logged (and synced) in the descriptor log before the file changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepIntent {
    /// The descriptor log's file name in the backup folder.
    pub log: String,
    /// The top-level entries of the volume walked (volume-relative): the log may name
    /// paths below these only.
    pub places: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepDone {
    pub seen: u64,
    pub changed: u64,
    pub failed: u64,
}

/// The migration is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub new_sid: Sid,
    pub account: String,
    pub created: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_json_with_their_phase_and_step() {
        let sid: Sid = "S-1-5-21-1-2-3-1001".parse().unwrap();
        let records = [
            Entry::Intent(Intent::Account(AccountIntent {
                name: "alice".into(),
                sam_backup: Some(Backup {
                    dir: "account".into(),
                    files: vec![BackupFile {
                        name: "SAM".into(),
                        len: 3,
                        sha256: "ab".into(),
                    }],
                }),
            })),
            Entry::Done(Done::Account(AccountDone {
                rid: 1001,
                sid: sid.clone(),
                name: "alice".into(),
                sam_hash: None,
            })),
            Entry::UndoIntent {
                step: StepId::Tree,
                how: UndoHow::Logical,
            },
            Entry::Commit(Commit {
                new_sid: sid,
                account: "alice".into(),
                created: true,
            }),
        ];
        for (i, entry) in records.into_iter().enumerate() {
            let r = Record {
                seq: i as u64 + 1,
                time: 7,
                entry,
            };
            let text = serde_json::to_string(&r).unwrap();
            let back: Record = serde_json::from_str(&text).unwrap();
            assert_eq!(back, r, "{text}");
        }
        let text =
            r#"{"seq":1,"time":2,"phase":"intent","step":"account","name":"a","sam_backup":null}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert!(matches!(r.entry, Entry::Intent(Intent::Account(_))));
        let unknown = r#"{"seq":1,"time":2,"phase":"intent","step":"format_disk"}"#;
        assert!(serde_json::from_str::<Record>(unknown).is_err());
    }
}
