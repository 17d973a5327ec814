//! The offline host: a Windows system volume mounted on Linux (ntfs-3g) or any folder
//! laid out like one (the sample volume). It implements the engine's host traits over
//! the volume's files: machine hives through `crates/hive`, accounts through
//! `crates/sam`, file security through the ntfs-3g extended attributes (`crates/ntfs3g`).
//!
//! ```no_run
//! use engine::profiles::{discover, DiscoverOptions};
//! use offline::OfflineHost;
//!
//! let host = OfflineHost::open("/mnt/windows")?;
//! for p in discover(&host, DiscoverOptions::default())? {
//!     println!("{} {} {:?}", p.account, p.key, p.states);
//! }
//! # Ok::<(), engine::Error>(())
//! ```

mod accounts;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use hive::Hive;
use ntsec::FileSecurity;

use engine::error::{Error, Result};
use engine::host::{
    Accounts, AccountsEdit, Host, LocalUser, MachineHive, MachineHiveFiles, NewAccount,
    PrivateFiles, RegEdit, RegKey, RegValue, Registry, RegistryEdit, Volume, VolumeEdit,
};
use engine::paths;

/// A mounted Windows volume.
#[derive(Debug)]
pub struct OfflineHost {
    root: PathBuf,
    software: OnceCell<Hive>,
    system: OnceCell<Hive>,
    sam: OnceCell<Hive>,
    security: OnceCell<Hive>,
    accounts: OnceCell<sam::Sam>,
    #[cfg(target_os = "linux")]
    file_security: Option<ntfs3g::NtfsXattr>,
}

impl OfflineHost {
    /// Opens a volume after checking that it can be worked on: it must look like a
    /// Windows system volume, be writable, and not be hibernated (Fast Startup), since
    /// Windows would then overwrite our changes with its memory image at the next boot.
    pub fn open(root: impl AsRef<Path>) -> Result<OfflineHost> {
        let root = root.as_ref().to_path_buf();
        let meta = std::fs::metadata(&root).map_err(Error::io(&root))?;
        if !meta.is_dir() {
            return Err(Error::Volume {
                root,
                reason: "not a folder; give the mount point of the Windows volume".into(),
            });
        }
        check_not_hibernated(&root)?;
        check_writable(&root)?;
        if paths::resolve(&root, r"Windows\System32\config").is_none() {
            return Err(Error::Volume {
                root,
                reason: r"no Windows\System32\config folder: this is not a Windows system volume \
                          (or it is mounted at the wrong level)"
                    .into(),
            });
        }
        Ok(OfflineHost {
            #[cfg(target_os = "linux")]
            file_security: ntfs3g::NtfsXattr::detect(&root).ok(),
            root,
            software: OnceCell::new(),
            system: OnceCell::new(),
            sam: OnceCell::new(),
            security: OnceCell::new(),
            accounts: OnceCell::new(),
        })
    }

    /// The local accounts database, read once.
    pub fn sam(&self) -> Result<&sam::Sam> {
        if let Some(s) = self.accounts.get() {
            return Ok(s);
        }
        let opened = crate::accounts::open(self)?;
        Ok(self.accounts.get_or_init(|| opened))
    }

    /// The volume's mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of a machine hive file.
    pub fn hive_path(&self, which: MachineHive) -> Result<PathBuf> {
        let rel = format!(r"Windows\System32\config\{}", which.file_name());
        paths::resolve(&self.root, &rel)
            .ok_or_else(|| Error::NotFound(format!("{}: missing {rel}", self.root.display())))
    }

    /// A machine hive, read (and log-replayed) once.
    pub fn hive(&self, which: MachineHive) -> Result<&Hive> {
        let cell = match which {
            MachineHive::Software => &self.software,
            MachineHive::System => &self.system,
            MachineHive::Sam => &self.sam,
            MachineHive::Security => &self.security,
        };
        if let Some(h) = cell.get() {
            return Ok(h);
        }
        let path = self.hive_path(which)?;
        let hive = Hive::open(&path).map_err(|source| Error::Hive { path, source })?;
        Ok(cell.get_or_init(|| hive))
    }
}

/// Windows with Fast Startup or hibernation leaves `hiberfil.sys` starting with `HIBR`
/// (or `hibr`); a resumed or cleanly shut down system has a zeroed or `wake` header.
fn check_not_hibernated(root: &Path) -> Result<()> {
    let Some(hiberfil) = paths::resolve(root, "hiberfil.sys") else {
        return Ok(());
    };
    let mut header = [0u8; 4];
    let read = std::fs::File::open(&hiberfil)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut header))
        .unwrap_or(0);
    if read == 4 && header.eq_ignore_ascii_case(b"HIBR") {
        return Err(Error::Volume {
            root: root.to_path_buf(),
            reason: "Windows is hibernated or was shut down with Fast Startup (hiberfil.sys holds a \
                     saved session), so it would undo our changes at its next start. Boot it and \
                     shut it down fully (`shutdown /s /t 0`, or `powercfg /h off` first), then try again"
                .into(),
        });
    }
    Ok(())
}

fn check_writable(root: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let st = rustix::fs::statvfs(root).map_err(|e| Error::Io {
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
            return Err(Error::Volume {
                root: root.to_path_buf(),
                reason: "the volume is mounted read-only; remount it read-write (ntfs-3g mounts \
                         read-only by itself when Windows is hibernated or the volume is dirty: \
                         shut Windows down fully, or run chkdsk on it)"
                    .into(),
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = root;
    Ok(())
}

impl Registry for OfflineHost {
    fn key(&self, which: MachineHive, path: &str) -> Result<Option<RegKey>> {
        let hive = self.hive(which)?;
        let file = || self.hive_path(which).unwrap_or_default();
        let wrap = |source| Error::Hive {
            path: file(),
            source,
        };
        let Some(key) = hive.key(path).map_err(wrap)? else {
            return Ok(None);
        };
        let values = key
            .values()
            .map_err(wrap)?
            .iter()
            .map(|v| {
                Ok(RegValue {
                    name: v.name(),
                    kind: v.kind(),
                    data: v.data().map_err(wrap)?.into_owned(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let subkeys = key
            .subkeys()
            .map_err(wrap)?
            .iter()
            .map(|k| k.name())
            .collect();
        Ok(Some(RegKey {
            name: key.name(),
            last_written: key.last_written(),
            values,
            subkeys,
        }))
    }
}

impl Volume for OfflineHost {
    fn host_path(&self, windows_path: &str) -> Option<PathBuf> {
        let expanded = paths::expand(windows_path);
        paths::resolve(&self.root, paths::below_drive(&expanded)?)
    }

    fn file_security(&self) -> Option<&dyn FileSecurity> {
        #[cfg(target_os = "linux")]
        {
            self.file_security.as_ref().map(|b| b as &dyn FileSecurity)
        }
        #[cfg(not(target_os = "linux"))]
        None
    }
}

impl Accounts for OfflineHost {
    fn machine_sid(&self) -> Result<ntsec::Sid> {
        crate::accounts::machine_sid(self)
    }
    fn computer_name(&self) -> Result<String> {
        crate::accounts::computer_name(self)
    }
    fn users(&self) -> Result<Vec<LocalUser>> {
        crate::accounts::users(self)
    }
    fn alias_members(&self, alias_rid: u32) -> Result<Vec<ntsec::Sid>> {
        crate::accounts::alias_members(self, alias_rid)
    }
    fn builtin_aliases_of(&self, sid: &ntsec::Sid) -> Result<Vec<u32>> {
        crate::accounts::builtin_aliases_of(self, sid)
    }
    fn name_in_use(&self, name: &str) -> Result<Option<String>> {
        crate::accounts::name_in_use(self, name)
    }
}

impl Host for OfflineHost {
    fn describe(&self) -> String {
        format!("offline volume {}", self.root.display())
    }
}

impl engine::host::MigrationHost for OfflineHost {
    fn volume_root_path(&self, relative: &str) -> Option<PathBuf> {
        paths::resolve_for_create(&self.root, relative)
    }
}

impl OfflineHost {
    /// Forgets cached copies after a write, so the next read sees the file.
    pub fn invalidate(&mut self, which: MachineHive) {
        match which {
            MachineHive::Software => self.software = OnceCell::new(),
            MachineHive::System => self.system = OnceCell::new(),
            MachineHive::Sam => self.sam = OnceCell::new(),
            MachineHive::Security => self.security = OnceCell::new(),
        }
        if matches!(which, MachineHive::Sam | MachineHive::System) {
            self.accounts = OnceCell::new();
        }
    }

    /// Saves a hive over `path`, keeping the file's descriptor and attributes.
    pub fn save_hive(&self, hive: &mut Hive, path: &Path) -> Result<hive::SaveReport> {
        let keep = |tmp: &Path, target: &Path| self.copy_metadata(target, tmp);
        let options = hive::SaveOptions {
            before_rename: Some(&keep),
            ..hive::SaveOptions::default()
        };
        hive.save_with(options).map_err(|source| Error::Hive {
            path: path.to_path_buf(),
            source,
        })
    }

    fn edit_sam(&mut self, f: impl FnOnce(&mut sam::Sam) -> sam::Result<()>) -> Result<()> {
        let mut opened = crate::accounts::open(self)?;
        let sam_path = self.hive_path(MachineHive::Sam)?;
        f(&mut opened).map_err(|e| Error::Accounts(e.to_string()))?;
        let keep = |tmp: &Path, target: &Path| self.copy_metadata(target, tmp);
        opened
            .save_with(hive::SaveOptions {
                before_rename: Some(&keep),
                ..hive::SaveOptions::default()
            })
            .map_err(|e| Error::Accounts(format!("{}: {e}", sam_path.display())))?;
        self.invalidate(MachineHive::Sam);
        Ok(())
    }
}

impl AccountsEdit for OfflineHost {
    fn create_user(&mut self, new: &NewAccount<'_>) -> Result<LocalUser> {
        let mut created = None;
        self.edit_sam(|sam| {
            let user = sam.create_user(&sam::NewUser {
                name: new.name,
                full_name: new.full_name,
                comment: new.comment,
                password: Some(new.password),
                admin: new.admin,
                password_never_expires: false,
                disabled: false,
                setup_account: false,
            })?;
            created = Some(user);
            Ok(())
        })?;
        let u = created.ok_or_else(|| Error::Accounts("the account was not created".into()))?;
        Ok(crate::accounts::local_user(u))
    }

    fn delete_user(&mut self, rid: u32) -> Result<()> {
        self.edit_sam(|sam| sam.delete_user(rid))
    }

    fn add_alias_member(&mut self, alias_rid: u32, member: &ntsec::Sid) -> Result<bool> {
        let mut added = false;
        self.edit_sam(|sam| {
            added = sam.add_alias_member(sam::AliasDomain::Builtin, alias_rid, member)?;
            Ok(())
        })?;
        Ok(added)
    }

    fn remove_alias_member(&mut self, alias_rid: u32, member: &ntsec::Sid) -> Result<bool> {
        let mut removed = false;
        self.edit_sam(|sam| {
            removed = sam.remove_alias_member(sam::AliasDomain::Builtin, alias_rid, member)?;
            Ok(())
        })?;
        Ok(removed)
    }
}

impl RegistryEdit for OfflineHost {
    fn apply(&mut self, which: MachineHive, edits: &[RegEdit]) -> Result<()> {
        let path = self.hive_path(which)?;
        let wrap = |source| Error::Hive {
            path: path.clone(),
            source,
        };
        let mut hive = Hive::open(&path).map_err(wrap)?;
        for edit in edits {
            match edit {
                RegEdit::CreateKey { path: key } => {
                    hive.create_key_path(key).map_err(wrap)?;
                }
                RegEdit::DeleteKey { path: key } => {
                    if let Some(k) = hive.key(key).map_err(wrap)? {
                        let offset = k.offset();
                        hive.delete_key(offset).map_err(wrap)?;
                    }
                }
                RegEdit::SetValue {
                    path: key,
                    name,
                    kind,
                    data,
                } => {
                    let k = hive.require_key(key).map_err(wrap)?.offset();
                    hive.set_value(k, name, *kind, data).map_err(wrap)?;
                }
                RegEdit::RenameKey {
                    path: key,
                    new_name,
                } => {
                    // Idempotent: a key already renamed is left as it is.
                    if let Some(k) = hive.key(key).map_err(wrap)? {
                        let offset = k.offset();
                        hive.rename_key(offset, new_name).map_err(wrap)?;
                    }
                }
                RegEdit::DeleteValue { path: key, name } => {
                    let k = hive.require_key(key).map_err(wrap)?;
                    if k.value(name).map_err(wrap)?.is_some() {
                        let offset = k.offset();
                        hive.delete_value(offset, name).map_err(wrap)?;
                    }
                }
                RegEdit::SetKeySecurity {
                    path: key,
                    descriptor,
                } => {
                    let k = hive.require_key(key).map_err(wrap)?.offset();
                    hive.set_key_security(k, descriptor).map_err(wrap)?;
                }
            }
        }
        let report = hive.check();
        if !report.is_ok() {
            let first = report
                .findings
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default();
            return Err(Error::Invalid(format!(
                "{}: the edited hive failed validation, nothing was written: {first}",
                path.display()
            )));
        }
        self.save_hive(&mut hive, &path)?;
        self.invalidate(which);
        Ok(())
    }
}

impl VolumeEdit for OfflineHost {
    fn copy_metadata(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(backend) = &self.file_security {
            return backend.copy_metadata(from, to);
        }
        let _ = (from, to);
        Ok(())
    }

    fn free_space(&self) -> Result<u64> {
        #[cfg(target_os = "linux")]
        {
            let st = rustix::fs::statvfs(&self.root).map_err(|e| Error::Io {
                path: self.root.clone(),
                source: e.into(),
            })?;
            Ok(st.f_bavail.saturating_mul(st.f_frsize))
        }
        #[cfg(not(target_os = "linux"))]
        Ok(u64::MAX)
    }
}

impl MachineHiveFiles for OfflineHost {
    fn machine_hive_file(&self, which: MachineHive) -> Option<PathBuf> {
        self.hive_path(which).ok()
    }

    fn forget_cached(&mut self, which: MachineHive) {
        self.invalidate(which);
    }
}

impl PrivateFiles for OfflineHost {
    /// On an NTFS volume: the private descriptor through the volume's extended
    /// attributes. On a plain folder (a test volume): mode 0700/0600.
    fn make_private(&self, path: &Path) -> std::io::Result<()> {
        let is_dir = std::fs::symlink_metadata(path)?.is_dir();
        if let Some(backend) = self.file_security() {
            return backend.write(path, &engine::private::descriptor(is_dir));
        }
        set_owner_only(path, is_dir)
    }

    fn check_private(&self, path: &Path) -> std::result::Result<(), String> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
        if meta.file_type().is_symlink() {
            return Err("it is a symbolic link".into());
        }
        if let Some(backend) = self.file_security() {
            let mut sd = Vec::new();
            backend
                .read(path, &mut sd)
                .map_err(|e| format!("its security descriptor cannot be read: {e}"))?;
            return engine::private::verify(&sd);
        }
        check_owner_only(&meta)
    }
}

#[cfg(unix)]
fn set_owner_only(path: &Path, is_dir: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if is_dir { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_owner_only(_: &Path, _: bool) -> std::io::Result<()> {
    Ok(())
}

/// A plain folder: only its owner, who must be the user running admu, may get in.
#[cfg(unix)]
fn check_owner_only(meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "it is owned by uid {}, not by uid {me}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!("its mode {:o} lets others in", meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_: &std::fs::Metadata) -> std::result::Result<(), String> {
    Ok(())
}
