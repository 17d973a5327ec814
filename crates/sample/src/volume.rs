//! The volume around the profiles: `Windows\System32\config` and `Tasks`, the service
//! profiles, `Users\{Default,Public,All Users,Default User,desktop.ini}`, `ProgramData`
//! and `$Recycle.Bin\<SID>` (checklist items 33–35), with their descriptors.

use std::path::{Path, PathBuf};

use crate::error::{Result, io};
use crate::files::desktop_ini;
use crate::names::{DAY, World};
use crate::ntfs::{ARCHIVE, HIDDEN, Ntfs, READONLY, SYSTEM};
use crate::regbuild::{HiveStats, SdCache, Vars};
use crate::rng::Rng;
use crate::software::{task_guid, task_name};

/// `C:\Windows`, `C:\ProgramData`: TrustedInstaller's, read for users.
const SYSTEM_DIR: &str = "O:<TI>G:<TI>D:PAI(A;;FA;;;<TI>)(A;OICIIO;GA;;;<TI>)(A;;0x1301bf;;;SY)(A;OICIIO;GA;;;SY)(A;;0x1301bf;;;BA)(A;OICIIO;GA;;;BA)(A;;0x1200a9;;;BU)(A;OICIIO;GXGR;;;BU)(A;OICIIO;GA;;;CO)";
/// `C:\Users`.
const USERS_DIR: &str = "O:SYG:SYD:PAI(A;;0x1200a9;;;WD)(A;OICIIO;GXGR;;;WD)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;;0x1200a9;;;BU)(A;OICIIO;GXGR;;;BU)";
/// `C:\Users\Default`.
const DEFAULT_DIR: &str =
    "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;OICI;0x1200a9;;;WD)";
/// `C:\Users\Public`.
const PUBLIC_DIR: &str = "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)(A;OICI;0x1301bf;;;IU)(A;OICI;0x1301bf;;;SU)(A;OICI;0x1200a9;;;BU)";
/// `C:\Users\Default User` (a system junction; the deny mask is 0x1).
const DEFAULT_USER_JUNCTION: &str =
    "O:SYG:SYD:PAI(D;;CC;;;WD)(A;;0x1200a9;;;WD)(A;;FA;;;SY)(A;;FA;;;BA)";
/// Hive files in `config` and the service profiles' hives.
const HIVE_FILE: &str = "O:BAG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)";
/// A service profile folder (template `<USER>`: the service's SID).
const SERVICE_PROFILE: &str = "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;<USER>)";
/// `$Recycle.Bin\<SID>` (template `<USER>`, `<U513>`).
const RECYCLE_BIN: &str = "O:<USER>G:<U513>D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;<USER>)";

/// Creates folders with descriptors on the volume.
#[derive(Debug)]
pub struct Volume<'a> {
    pub root: PathBuf,
    pub ntfs: &'a Ntfs,
    sds: SdCache,
}

impl<'a> Volume<'a> {
    /// The volume rooted at `root`.
    pub fn new(root: &Path, ntfs: &'a Ntfs) -> Volume<'a> {
        Volume {
            root: root.to_path_buf(),
            ntfs,
            sds: SdCache::new(Vars::default()),
        }
    }

    /// A path from a Windows-style relative path.
    pub fn path(&self, rel: &str) -> PathBuf {
        rel.split('\\')
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    fn meta(&mut self, p: &Path, sddl: &str, attributes: u32) -> Result<()> {
        if self.ntfs.enabled() {
            let sd = self.sds.bytes(sddl)?;
            self.ntfs.set_sd(p, &sd)?;
            if attributes != 0 {
                self.ntfs.set_attributes(p, attributes)?;
            }
        }
        Ok(())
    }

    /// Creates a folder and its missing parents; gives it a descriptor.
    pub fn dir(&mut self, rel: &str, sddl: &str, attributes: u32) -> Result<PathBuf> {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
        self.meta(&p, sddl, attributes)?;
        Ok(p)
    }

    /// Writes a file with a descriptor and attributes.
    pub fn file(&mut self, rel: &str, data: &[u8], sddl: &str, attributes: u32) -> Result<()> {
        let p = self.path(rel);
        std::fs::write(&p, data).map_err(io(&p))?;
        self.meta(&p, sddl, attributes)
    }

    /// Gives a hive written elsewhere (and its logs) the descriptor of hive files.
    pub fn hive_file(&mut self, rel: &str, attributes: u32) -> Result<()> {
        let p = self.path(rel);
        self.meta(&p, HIVE_FILE, attributes)?;
        if let (Some(dir), Some(name)) = (p.parent(), p.file_name()) {
            for ext in ["LOG1", "LOG2"] {
                let log = dir.join(format!("{}.{ext}", name.to_string_lossy()));
                if log.exists() {
                    self.meta(&log, HIVE_FILE, attributes | SYSTEM)?;
                }
            }
        }
        Ok(())
    }
}

/// The system folders that must exist before hives are written into them.
pub fn skeleton(v: &mut Volume<'_>) -> Result<()> {
    v.dir("Windows", SYSTEM_DIR, 0)?;
    v.dir("Windows\\System32", SYSTEM_DIR, 0)?;
    v.dir("Windows\\System32\\config", HIVE_FILE, 0)?;
    v.dir(
        "Windows\\System32\\config\\systemprofile",
        SERVICE_PROFILE.replace("<USER>", "SY").as_str(),
        0,
    )?;
    v.dir("Windows\\System32\\Tasks", SYSTEM_DIR, 0)?;
    v.dir("Windows\\ServiceProfiles", SYSTEM_DIR, 0)?;
    v.dir(
        "Windows\\ServiceProfiles\\LocalService",
        SERVICE_PROFILE.replace("<USER>", "LS").as_str(),
        0,
    )?;
    v.dir(
        "Windows\\ServiceProfiles\\NetworkService",
        SERVICE_PROFILE.replace("<USER>", "NS").as_str(),
        0,
    )?;
    v.dir("ProgramData", SYSTEM_DIR, HIDDEN)?;
    v.dir(
        "ProgramData\\Microsoft\\Windows\\Start Menu\\Programs",
        SYSTEM_DIR,
        0,
    )?;
    v.dir("Users", USERS_DIR, READONLY)?;
    v.dir("Users\\Default", DEFAULT_DIR, HIDDEN | READONLY)?;
    for d in [
        "AppData\\Local",
        "AppData\\Roaming",
        "Desktop",
        "Documents",
        "Downloads",
    ] {
        v.dir(&format!("Users\\Default\\{d}"), DEFAULT_DIR, 0)?;
    }
    v.dir("Users\\Public", PUBLIC_DIR, READONLY)?;
    for d in [
        "Desktop",
        "Documents",
        "Downloads",
        "Music",
        "Pictures",
        "Videos",
    ] {
        v.dir(
            &format!("Users\\Public\\{d}"),
            PUBLIC_DIR,
            READONLY | HIDDEN,
        )?;
    }
    let ini = b"\r\n[.ShellClassInfo]\r\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-21813\r\n";
    let mut padded = ini.to_vec();
    padded.resize(174, b' ');
    v.file(
        "Users\\desktop.ini",
        &padded,
        USERS_DIR,
        ARCHIVE | HIDDEN | SYSTEM,
    )?;
    v.file(
        "Users\\Public\\desktop.ini",
        &desktop_ini(-21816),
        PUBLIC_DIR,
        ARCHIVE | HIDDEN | SYSTEM,
    )?;
    Ok(())
}

/// `All Users` → `C:\ProgramData` (symlink), `Default User` → `Default` (junction).
pub fn legacy_links(v: &mut Volume<'_>) -> Result<crate::ntfs::JunctionKind> {
    let all_users = v.path("Users\\All Users");
    #[cfg(unix)]
    std::os::unix::fs::symlink("../ProgramData", &all_users).map_err(io(&all_users))?;
    #[cfg(not(unix))]
    let _ = all_users;
    let sd = v.sds.bytes(DEFAULT_USER_JUNCTION)?;
    let p = v.path("Users\\Default User");
    v.ntfs
        .junction(&p, "C:\\Users\\Default", "Default", &sd, HIDDEN | SYSTEM)
}

/// Recycle-bin folders and scheduled-task XML of every user.
pub fn per_user(v: &mut Volume<'_>, world: &World) -> Result<()> {
    v.dir(
        "$Recycle.Bin",
        "O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1201ad;;;BU)",
        HIDDEN | SYSTEM,
    )?;
    for user in &world.users {
        let sid = user.sid.to_string();
        let sddl = RECYCLE_BIN
            .replace("<USER>", &sid)
            .replace("<U513>", &user.group.to_string());
        v.dir(&format!("$Recycle.Bin\\{sid}"), &sddl, HIDDEN | SYSTEM)?;
        v.file(
            &format!("$Recycle.Bin\\{sid}\\desktop.ini"),
            &desktop_ini(-8964),
            &sddl,
            HIDDEN | SYSTEM | ARCHIVE,
        )?;
        v.file(
            &format!("Windows\\System32\\Tasks\\{}", task_name(user)),
            &task_xml(world, user),
            SYSTEM_DIR,
            ARCHIVE,
        )?;
    }
    Ok(())
}

/// `C:\Projects`, created by alice: owned by her, its DACL inherited from the volume
/// root's default (administrators and SYSTEM full control, Users read, Authenticated
/// Users modify below the root). Modelled on that inheritance, not copied from a machine.
const PROJECTS_DIR: &str = "O:<USER>G:<U513>D:AI(A;OICIID;FA;;;BA)(A;OICIID;FA;;;SY)(A;OICIID;0x1200a9;;;BU)(A;ID;0x1301bf;;;AU)(A;OICIIOID;SDGXGWGR;;;AU)";
/// `C:\Projects\shared`: alice disabled inheritance and granted specific people (her
/// team, Domain Users here) modify access: a protected DACL with explicit ACEs.
const SHARED_DIR: &str = "O:<USER>G:<U513>D:PAI(A;OICI;FA;;;<USER>)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;<U513>)";
/// What files and folders below it inherit.
const SHARED_CHILD: &str =
    "O:<USER>G:<U513>D:AI(A;ID;FA;;;<USER>)(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1301bf;;;<U513>)";
const SHARED_SUBDIR: &str = "O:<USER>G:<U513>D:AI(A;OICIID;FA;;;<USER>)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1301bf;;;<U513>)";

/// A folder alice shares outside her profile (`C:\Projects\shared`), its descriptors
/// naming her SID (owner and ACEs): what `admu sids` finds and `--sweep-files` carries.
pub fn shared_folder(v: &mut Volume<'_>, world: &World) -> Result<()> {
    let alice = world.alice()?;
    let fill = |t: &str| {
        t.replace("<USER>", &alice.sid.to_string())
            .replace("<U513>", &alice.group.to_string())
    };
    v.dir("Projects", &fill(PROJECTS_DIR), 0)?;
    v.dir("Projects\\shared", &fill(SHARED_DIR), 0)?;
    v.dir("Projects\\shared\\drafts", &fill(SHARED_SUBDIR), 0)?;
    for (name, text) in [
        ("Projects\\shared\\plan.txt", "Q3 rollout plan\r\n"),
        ("Projects\\shared\\contacts.csv", "name,phone\r\n"),
        ("Projects\\shared\\drafts\\notes.txt", "draft\r\n"),
    ] {
        v.file(name, text.as_bytes(), &fill(SHARED_CHILD), ARCHIVE)?;
    }
    Ok(())
}

/// A scheduled task's XML (UTF-16LE with BOM) whose principal is the user's SID.
fn task_xml(world: &World, user: &crate::names::User) -> Vec<u8> {
    let start = crate::rng::Rng::new(world.seed).fork("task").below(24);
    let date = export_date(user.first_logon + DAY);
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <RegistrationInfo>\r\n    <URI>\\{name}</URI>\r\n    <Date>{date}</Date>\r\n  </RegistrationInfo>\r\n  <Triggers>\r\n    <TimeTrigger>\r\n      <Repetition>\r\n        <Interval>P1D</Interval>\r\n      </Repetition>\r\n      <StartBoundary>{start_date}T{start:02}:00:00</StartBoundary>\r\n      <Enabled>true</Enabled>\r\n    </TimeTrigger>\r\n  </Triggers>\r\n  <Principals>\r\n    <Principal id=\"Author\">\r\n      <UserId>{sid}</UserId>\r\n      <LogonType>InteractiveToken</LogonType>\r\n    </Principal>\r\n  </Principals>\r\n  <Settings>\r\n    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\r\n    <StartWhenAvailable>true</StartWhenAvailable>\r\n    <Enabled>true</Enabled>\r\n  </Settings>\r\n  <Actions Context=\"Author\">\r\n    <Exec>\r\n      <Command>{profile}\\AppData\\Local\\Microsoft\\OneDrive\\OneDriveStandaloneUpdater.exe</Command>\r\n    </Exec>\r\n  </Actions>\r\n</Task>\r\n",
        name = task_name(user),
        sid = user.sid,
        profile = user.profile_path(),
        start_date = date.get(..10).unwrap_or(&date),
    );
    let _ = task_guid(world, user);
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS` of a FILETIME.
fn export_date(ft: u64) -> String {
    let text = hive::export::filetime_to_rfc3339(ft);
    text.get(..19).unwrap_or(&text).to_string()
}

/// The `NTUSER.DAT` of the Default and service profiles.
pub fn profile_hives(v: &mut Volume<'_>, world: &World, rng: &Rng) -> Result<Vec<HiveStats>> {
    let mut out = Vec::new();
    let services = [
        (
            Some(ntsec::Sid::local_system()),
            "Windows\\System32\\config\\systemprofile",
            "\\??\\C:\\Windows\\system32\\config\\systemprofile\\ntuser.dat",
        ),
        (
            Some("S-1-5-19".parse()?),
            "Windows\\ServiceProfiles\\LocalService",
            "\\??\\C:\\Windows\\ServiceProfiles\\LocalService\\ntuser.dat",
        ),
        (
            Some("S-1-5-20".parse()?),
            "Windows\\ServiceProfiles\\NetworkService",
            "\\??\\C:\\Windows\\ServiceProfiles\\NetworkService\\ntuser.dat",
        ),
        (
            None,
            "Users\\Default",
            "\\??\\C:\\Users\\Default\\NTUSER.DAT",
        ),
    ];
    for (sid, dir, opened_as) in services {
        let rel = format!("{dir}\\NTUSER.DAT");
        let path = v.path(&rel);
        let stats =
            crate::system_hives::small_user_hive(world, sid.as_ref(), &path, opened_as, &rel, rng)?;
        v.hive_file(&rel, ARCHIVE | HIDDEN)?;
        out.push(stats);
    }
    Ok(out)
}
