//! The live Windows host: the engine's host traits over Win32, for admu running on the
//! Windows it converts. Thin glue: every decision that can be made without Windows is a
//! pure function in `engine::live`, `engine::private` or the small helpers here, tested
//! under Wine with the rest of this crate.
//!
//! ```no_run
//! # #[cfg(windows)]
//! # fn main() -> Result<(), engine::Error> {
//! use engine::profiles::{discover, DiscoverOptions};
//! use windows_host::WindowsHost;
//!
//! let host = WindowsHost::open()?;
//! for p in discover(&host, DiscoverOptions::default())? {
//!     println!("{} {} {:?}", p.account, p.key, p.states);
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(windows))]
//! # fn main() {}
//! ```
//!
//! What it uses: the registry API in the 64-bit view (machine hives are the loaded
//! `HKLM\SOFTWARE`, `HKLM\SYSTEM`, …, never files: [`MachineHiveFiles`] says `None`, so
//! the engine undoes registry changes logically); the Net* user and local-group
//! functions and the LSA policy for accounts and logon rights; descriptors through
//! handles opened with backup semantics that do not follow reparse points; WTS for
//! sessions; Restart Manager for who holds a file; `NetGetJoinInformation`,
//! `NetGetAadJoinInformation`, `NetUnjoinDomain` and `dsregcmd /leave` for the
//! directory; `InitiateShutdownW` to restart.
//!
//! Functions not every Windows exports (`NetGetAadJoinInformation`,
//! `NetFreeAadJoinInformation`, `NetUnjoinDomain`; Wine 8 has none of them) are looked
//! up at run time, so admu still starts where they are missing.
#![cfg(windows)]
// The one crate of the workspace that calls Win32: the workspace denies `unsafe_code`,
// this crate allows it, and every unsafe block says why it is sound.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
// Win32 constants keep their Windows names (`NERR_Success`, `WTSActive`) in patterns.
#![allow(non_upper_case_globals)]

mod accounts;
mod files;
mod live;
mod power;
mod registry;
mod token;
mod wide;
mod win32;

use std::path::{Path, PathBuf};

use engine::error::{Error, Result};
use engine::host::{
    Accounts, AccountsEdit, Host, LocalUser, MachineHive, MachineHiveFiles, MigrationHost,
    NewAccount, PrivateFiles, RegEdit, RegKey, Registry, RegistryEdit, Volume, VolumeEdit,
};
use engine::live::{FileHolder, JoinState, Live, RunningAs, Session};
use ntsec::{FileSecurity, Sid};

pub use files::Win32FileSecurity;
pub use power::{SleepGuard, prevent_sleep, system_temp_log_path};
pub use win32::Win32Error;

/// The running Windows as an engine host.
#[derive(Debug)]
pub struct WindowsHost {
    files: Win32FileSecurity,
    windows_dir: PathBuf,
    system_drive: PathBuf,
}

impl WindowsHost {
    /// Opens the running Windows: enables SeBackupPrivilege, SeRestorePrivilege,
    /// SeTakeOwnershipPrivilege and SeSecurityPrivilege on this process's token, once.
    ///
    /// A privilege the token does not hold is an error naming it (`Error::Refused`: run
    /// elevated or as SYSTEM), except SeSecurityPrivilege: without it descriptors are
    /// read and written without their SACL ([`WindowsHost::with_sacl`] says which).
    pub fn open() -> Result<WindowsHost> {
        let mut enabled = Vec::new();
        for name in engine::live::FILE_SECURITY_PRIVILEGES {
            enabled.push((
                name,
                token::enable_privilege(name).map_err(Win32Error::other)?,
            ));
        }
        let sacl = token::file_privileges_outcome(&enabled).map_err(Error::Refused)?;
        let windows_dir = win32::windows_dir().map_err(Win32Error::other)?;
        let system_drive = win32::drive_root(&windows_dir).ok_or_else(|| {
            Error::Invalid(format!(
                "the Windows folder {} is not on a drive with a letter",
                windows_dir.display()
            ))
        })?;
        Ok(WindowsHost {
            files: Win32FileSecurity::new(sacl),
            windows_dir,
            system_drive,
        })
    }

    /// Whether SACLs are read and written (SeSecurityPrivilege could be enabled).
    pub fn with_sacl(&self) -> bool {
        self.files.with_sacl()
    }

    /// The Windows folder (`C:\Windows`).
    pub fn windows_dir(&self) -> &Path {
        &self.windows_dir
    }

    /// The root of the system drive (`C:\`).
    pub fn system_drive(&self) -> &Path {
        &self.system_drive
    }
}

impl Registry for WindowsHost {
    fn key(&self, hive: MachineHive, path: &str) -> Result<Option<RegKey>> {
        registry::read(hive, path)
    }
}

impl RegistryEdit for WindowsHost {
    fn apply(&mut self, hive: MachineHive, edits: &[RegEdit]) -> Result<()> {
        registry::apply(hive, edits)
    }
}

impl Accounts for WindowsHost {
    fn machine_sid(&self) -> Result<Sid> {
        accounts::machine_sid()
    }
    fn computer_name(&self) -> Result<String> {
        accounts::computer_name()
    }
    fn users(&self) -> Result<Vec<LocalUser>> {
        accounts::users()
    }
    fn alias_members(&self, alias_rid: u32) -> Result<Vec<Sid>> {
        accounts::alias_members(alias_rid)
    }
    fn builtin_aliases_of(&self, sid: &Sid) -> Result<Vec<u32>> {
        accounts::builtin_aliases_of(sid)
    }
    fn name_in_use(&self, name: &str) -> Result<Option<String>> {
        accounts::name_in_use(name)
    }
}

impl AccountsEdit for WindowsHost {
    fn create_user(&mut self, new: &NewAccount<'_>) -> Result<LocalUser> {
        accounts::create_user(new)
    }
    fn delete_user(&mut self, rid: u32) -> Result<()> {
        accounts::delete_user(rid)
    }
    fn add_alias_member(&mut self, alias_rid: u32, member: &Sid) -> Result<bool> {
        accounts::add_alias_member(alias_rid, member)
    }
    fn remove_alias_member(&mut self, alias_rid: u32, member: &Sid) -> Result<bool> {
        accounts::remove_alias_member(alias_rid, member)
    }
}

impl Volume for WindowsHost {
    /// `%SystemDrive%`, `%SystemRoot%`, `%ProgramData%` … expanded from the environment;
    /// the path when it exists. UNC paths are not local: `None`.
    fn host_path(&self, windows_path: &str) -> Option<PathBuf> {
        if engine::paths::is_unc(windows_path) {
            return None;
        }
        let expanded = win32::expand_env(windows_path).ok()?;
        let path = PathBuf::from(expanded);
        std::fs::symlink_metadata(&path).ok()?;
        Some(path)
    }

    fn file_security(&self) -> Option<&dyn FileSecurity> {
        Some(&self.files)
    }
}

impl VolumeEdit for WindowsHost {
    fn copy_metadata(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        files::copy_metadata(&self.files, from, to)
    }

    fn free_space(&self) -> Result<u64> {
        files::free_space(&self.system_drive).map_err(|e| e.at(&self.system_drive))
    }
}

impl MachineHiveFiles for WindowsHost {
    /// The machine hives are loaded: never replaced as files.
    fn machine_hive_file(&self, _: MachineHive) -> Option<PathBuf> {
        None
    }
}

impl PrivateFiles for WindowsHost {
    fn make_private(&self, path: &Path) -> std::io::Result<()> {
        files::make_private(path)
    }

    fn check_private(&self, path: &Path) -> std::result::Result<(), String> {
        files::check_private(path)
    }
}

impl Host for WindowsHost {
    fn describe(&self) -> String {
        match accounts::computer_name() {
            Ok(name) => format!("this Windows ({name})"),
            Err(_) => "this Windows".to_string(),
        }
    }

    fn live(&self) -> Option<&dyn Live> {
        Some(self)
    }
}

impl MigrationHost for WindowsHost {
    fn volume_root_path(&self, relative: &str) -> Option<PathBuf> {
        Some(root_join(&self.system_drive, relative))
    }
}

/// `relative` (`ProgramData/admu\x`) below `root` (`C:\`), with Windows separators.
pub fn root_join(root: &Path, relative: &str) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in relative
        .split(['\\', '/'])
        .filter(|p| !p.is_empty() && *p != ".")
    {
        path.push(part);
    }
    path
}

impl Live for WindowsHost {
    fn running_as(&self) -> Result<RunningAs> {
        token::running_as().map_err(Win32Error::other)
    }
    fn loaded_hives(&self) -> Result<Vec<String>> {
        registry::loaded_hives()
    }
    fn sessions(&self) -> Result<Vec<Session>> {
        live::sessions()
    }
    fn file_holders(&self, files: &[&Path]) -> Result<Vec<FileHolder>> {
        live::file_holders(files)
    }
    fn logoff(&self, session: u32) -> Result<()> {
        live::logoff(session)
    }
    fn logon_denied(&self, sid: &Sid) -> Result<bool> {
        accounts::logon_denied(sid)
    }
    fn set_logon_denied(&self, sid: &Sid, denied: bool) -> Result<()> {
        accounts::set_logon_denied(sid, denied)
    }
    fn join_state(&self) -> Result<JoinState> {
        live::join_state()
    }
    fn leave_ad_domain(&self) -> Result<()> {
        live::leave_ad_domain()
    }
    fn leave_entra(&self) -> Result<()> {
        live::leave_entra(&self.windows_dir)
    }
    fn reboot(&self, delay_secs: u32, reason: &str) -> Result<()> {
        live::reboot(delay_secs, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_paths_are_below_the_system_drive() {
        let root = Path::new(r"C:\");
        assert_eq!(
            root_join(root, r"ProgramData\admu\migrations"),
            Path::new(r"C:\ProgramData\admu\migrations")
        );
        assert_eq!(
            root_join(root, "/ProgramData/admu/"),
            Path::new(r"C:\ProgramData\admu")
        );
        assert_eq!(root_join(root, ""), Path::new(r"C:\"));
    }
}
