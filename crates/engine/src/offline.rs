//! The offline host: a Windows system volume mounted on Linux (ntfs-3g) or any folder
//! laid out like one (the sample volume).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use hive::Hive;
use ntsec::FileSecurity;

use crate::error::{Error, Result};
use crate::host::{Accounts, Host, LocalUser, MachineHive, RegKey, RegValue, Registry, Volume};
use crate::paths;

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
    file_security: Option<ntsec::files::NtfsXattr>,
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
            file_security: ntsec::files::NtfsXattr::detect(&root).ok(),
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
        let opened = crate::sam_offline::open(self)?;
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
        crate::sam_offline::machine_sid(self)
    }
    fn computer_name(&self) -> Result<String> {
        crate::sam_offline::computer_name(self)
    }
    fn users(&self) -> Result<Vec<LocalUser>> {
        crate::sam_offline::users(self)
    }
    fn alias_members(&self, alias_rid: u32) -> Result<Vec<ntsec::Sid>> {
        crate::sam_offline::alias_members(self, alias_rid)
    }
}

impl Host for OfflineHost {
    fn describe(&self) -> String {
        format!("offline volume {}", self.root.display())
    }
}
