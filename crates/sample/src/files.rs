//! A profile folder as the User Profile Service and a few months of use leave it
//! (windows-profile-state.md §6): known folders with `desktop.ini` and ReadOnly,
//! AppData with DPAPI and CAPI folders named by the SID, the files beside the hives (logs,
//! `ntuser.ini`, KTM logs, sparse), the legacy junctions, user documents, and the
//! descriptors: a protected root with the three FA ACEs, inherited ACEs below, explicit
//! copies on Documents and Links, AppContainer ACEs and a Low label on Favorites, and the
//! junctions' deny ACE. Files are written as they are generated; nothing is kept in memory.

use std::path::{Path, PathBuf};

use crate::error::{Result, io};
use crate::names::{Os, User, World};
use crate::ntfs::{ARCHIVE, HIDDEN, JunctionKind, Ntfs, READONLY, SYSTEM};
use crate::regbuild::{SdCache, Vars};
use crate::rng::{Rng, guid_plain};

/// The profile root: protected, three explicit Full Control ACEs (§6.1).
pub const ROOT: &str = "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;<USER>)";
/// A folder below the root.
pub const DIR: &str =
    "O:<USER>G:<U513>D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<USER>)";
/// A file below the root.
pub const FILE: &str = "O:<USER>G:<U513>D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;<USER>)";
/// `Documents`, `Links`: an explicit copy followed by the inherited ACEs.
pub const DIR_EXPLICIT: &str = "O:<USER>G:<U513>D:AI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;<USER>)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<USER>)";
/// `Favorites`: read for AppContainer capabilities, Low label (IE protected mode).
pub const FAVORITES: &str = "O:<USER>G:<U513>D:AI(A;OICI;0x1200a9;;;S-1-15-3-4096)(A;OICI;0x1200a9;;;S-1-15-3-1024-3424233489-972189580-2057154623-747635277-1604371224-316187997-3786583170-1043257646)(A;OICI;0x1200a9;;;AC)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<USER>)S:(ML;OICI;NW;;;LW)";
/// `AppData\LocalLow`: inherited DACL, Low label.
pub const LOCAL_LOW: &str = "O:<USER>G:<U513>D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<USER>)S:(ML;OICI;NW;;;LW)";
/// A package's folder under `AppData\Local\Packages` (template `<AC>`).
pub const PACKAGE: &str = "O:<USER>G:<U513>D:AI(A;OICI;FA;;;<AC>)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<USER>)";
/// A legacy junction: deny listing to Everyone, then the inherited ACEs (§6.3).
pub const JUNCTION: &str =
    "O:SYG:SYD:AI(D;;CC;;;WD)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;FA;;;<USER>)";

/// The legacy junctions: (path in the profile, target relative to the profile).
pub const JUNCTIONS: [(&str, &str); 16] = [
    ("Application Data", "AppData\\Roaming"),
    ("Cookies", "AppData\\Local\\Microsoft\\Windows\\INetCookies"),
    ("Local Settings", "AppData\\Local"),
    ("My Documents", "Documents"),
    (
        "NetHood",
        "AppData\\Roaming\\Microsoft\\Windows\\Network Shortcuts",
    ),
    (
        "PrintHood",
        "AppData\\Roaming\\Microsoft\\Windows\\Printer Shortcuts",
    ),
    ("Recent", "AppData\\Roaming\\Microsoft\\Windows\\Recent"),
    ("SendTo", "AppData\\Roaming\\Microsoft\\Windows\\SendTo"),
    (
        "Start Menu",
        "AppData\\Roaming\\Microsoft\\Windows\\Start Menu",
    ),
    (
        "Templates",
        "AppData\\Roaming\\Microsoft\\Windows\\Templates",
    ),
    ("Documents\\My Music", "Music"),
    ("Documents\\My Pictures", "Pictures"),
    ("Documents\\My Videos", "Videos"),
    ("AppData\\Local\\Application Data", "AppData\\Local"),
    (
        "AppData\\Local\\History",
        "AppData\\Local\\Microsoft\\Windows\\History",
    ),
    (
        "AppData\\Local\\Temporary Internet Files",
        "AppData\\Local\\Microsoft\\Windows\\INetCache",
    ),
];

/// Known folders: (name, ReadOnly + desktop.ini resource id, special descriptor).
const KNOWN: [(&str, Option<i32>, Option<&str>); 13] = [
    ("3D Objects", Some(-21823), None),
    ("Contacts", Some(-21812), None),
    ("Desktop", Some(-21769), None),
    ("Documents", Some(-21770), Some(DIR_EXPLICIT)),
    ("Downloads", Some(-21798), None),
    ("Favorites", Some(-21796), Some(FAVORITES)),
    ("Links", Some(-21810), Some(DIR_EXPLICIT)),
    ("Music", Some(-21790), None),
    ("OneDrive", None, None),
    ("Pictures", Some(-21779), None),
    ("Saved Games", None, None),
    ("Searches", Some(-9031), None),
    ("Videos", Some(-21791), None),
];

const APPDATA_DIRS: [&str; 36] = [
    "AppData\\Local",
    "AppData\\Local\\Temp",
    "AppData\\Local\\Microsoft",
    "AppData\\Local\\Microsoft\\Windows",
    "AppData\\Local\\Microsoft\\Windows\\INetCache",
    "AppData\\Local\\Microsoft\\Windows\\INetCookies",
    "AppData\\Local\\Microsoft\\Windows\\History",
    "AppData\\Local\\Microsoft\\Windows\\Burn",
    "AppData\\Local\\Microsoft\\Windows\\Burn\\Burn",
    "AppData\\Local\\Microsoft\\Windows\\Explorer",
    "AppData\\Local\\Microsoft\\WindowsApps",
    "AppData\\Local\\Microsoft\\OneDrive",
    "AppData\\Local\\Microsoft\\Credentials",
    "AppData\\Local\\Microsoft\\TokenBroker",
    "AppData\\Local\\Microsoft\\TokenBroker\\Cache",
    "AppData\\Local\\Packages",
    "AppData\\Roaming",
    "AppData\\Roaming\\Microsoft",
    "AppData\\Roaming\\Microsoft\\Windows",
    "AppData\\Roaming\\Microsoft\\Windows\\Start Menu",
    "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs",
    "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup",
    "AppData\\Roaming\\Microsoft\\Windows\\Recent",
    "AppData\\Roaming\\Microsoft\\Windows\\SendTo",
    "AppData\\Roaming\\Microsoft\\Windows\\Templates",
    "AppData\\Roaming\\Microsoft\\Windows\\Network Shortcuts",
    "AppData\\Roaming\\Microsoft\\Windows\\Printer Shortcuts",
    "AppData\\Roaming\\Microsoft\\Windows\\Libraries",
    "AppData\\Roaming\\Microsoft\\Windows\\Themes",
    "AppData\\Roaming\\Microsoft\\Protect",
    "AppData\\Roaming\\Microsoft\\Crypto",
    "AppData\\Roaming\\Microsoft\\Crypto\\RSA",
    "AppData\\Roaming\\Microsoft\\Credentials",
    "AppData\\Roaming\\Microsoft\\SystemCertificates",
    "AppData\\Roaming\\Microsoft\\SystemCertificates\\My",
    "AppData\\Roaming\\Microsoft\\SystemCertificates\\My\\Certificates",
];

/// Packages with a folder under `AppData\Local\Packages`: (family, AppContainer SID).
const PACKAGES: [(&str, &str); 3] = [
    (
        "Microsoft.Windows.ShellExperienceHost_cw5n1h2txyewy",
        "S-1-15-2-155514346-2573954481-755741238-1654018636-1233331829-3075935687-2861478708",
    ),
    (
        "Microsoft.WindowsStore_8wekyb3d8bbwe",
        "S-1-15-2-1609473798-1231923017-684268153-4268514328-882773646-2760585773-1760938157",
    ),
    (
        "Microsoft.AAD.BrokerPlugin_cw5n1h2txyewy",
        "S-1-15-2-1910091885-1573563583-1104941280-2418270861-3411158377-2822700936-2990310272",
    ),
];

/// What one profile's tree holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeStats {
    pub folders: usize,
    pub files: usize,
    pub junctions: usize,
    /// How the junctions were made (real junctions or symlinks).
    pub junction_kind: Option<JunctionKind>,
    pub bytes: u64,
}

/// Writes one profile's tree.
#[derive(Debug)]
pub struct ProfileTree<'a> {
    ntfs: &'a Ntfs,
    root: PathBuf,
    sds: SdCache,
    r: Rng,
    pub stats: TreeStats,
}

impl<'a> ProfileTree<'a> {
    /// A tree for `user` under `users_dir\<folder>`.
    pub fn new(
        user: &User,
        users_dir: &Path,
        ntfs: &'a Ntfs,
        rng: &Rng,
    ) -> Result<ProfileTree<'a>> {
        let vars = Vars::default()
            .with("<USER>", user.sid.to_string())
            .with("<U513>", user.group.to_string());
        Ok(ProfileTree {
            ntfs,
            root: users_dir.join(&user.folder),
            sds: SdCache::new(vars),
            r: rng.fork(&format!("files-{}", user.name)),
            stats: TreeStats::default(),
        })
    }

    /// The profile folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, rel: &str) -> PathBuf {
        rel.split('\\')
            .fold(self.root.clone(), |p, part| p.join(part))
    }

    fn meta(&mut self, path: &Path, family: &str, attributes: u32) -> Result<()> {
        if self.ntfs.enabled() {
            let sd = self.sds.bytes(family)?;
            self.ntfs.set_sd(path, &sd)?;
            if attributes != 0 {
                self.ntfs.set_attributes(path, attributes)?;
            }
        }
        Ok(())
    }

    /// Creates a folder (its parent must exist) with a descriptor and attributes.
    pub fn dir(&mut self, rel: &str, family: &str, attributes: u32) -> Result<PathBuf> {
        let p = if rel.is_empty() {
            self.root.clone()
        } else {
            self.path(rel)
        };
        if !p.is_dir() {
            std::fs::create_dir(&p).map_err(io(&p))?;
            self.stats.folders += 1;
        }
        self.meta(&p, family, attributes)?;
        Ok(p)
    }

    /// Writes a file with `data`, or a sparse file of `sparse_len` bytes when data is empty
    /// and `sparse_len` > 0.
    pub fn file(&mut self, rel: &str, data: &[u8], sparse_len: u64, attributes: u32) -> Result<()> {
        let p = self.path(rel);
        if sparse_len > 0 && data.is_empty() {
            let f = std::fs::File::create(&p).map_err(io(&p))?;
            f.set_len(sparse_len).map_err(io(&p))?;
        } else {
            std::fs::write(&p, data).map_err(io(&p))?;
        }
        self.stats.files += 1;
        self.stats.bytes += data.len() as u64 + sparse_len;
        self.meta(&p, FILE, attributes)
    }

    /// Gives an existing file (a hive written elsewhere) its descriptor and attributes.
    pub fn existing(&mut self, rel: &str, attributes: u32) -> Result<()> {
        let p = self.path(rel);
        let len = std::fs::metadata(&p).map_err(io(&p))?.len();
        self.stats.files += 1;
        self.stats.bytes += len;
        self.meta(&p, FILE, attributes)
    }

    /// The folders that must exist before the hives are written.
    pub fn skeleton(&mut self, world: &World, user: &User) -> Result<()> {
        if let Some(parent) = self.root.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        self.dir("", ROOT, 0)?;
        for (name, ini, special) in KNOWN {
            if name == "3D Objects" && world.machine.os != Os::Windows10 {
                continue;
            }
            let attrs = if ini.is_some() { READONLY } else { 0 };
            self.dir(name, special.unwrap_or(DIR), attrs)?;
            if let Some(id) = ini {
                self.file(
                    &format!("{name}\\desktop.ini"),
                    &desktop_ini(id),
                    0,
                    HIDDEN | SYSTEM | ARCHIVE,
                )?;
            }
        }
        self.dir("AppData", DIR, HIDDEN)?;
        self.dir("AppData\\LocalLow", LOCAL_LOW, 0)?;
        self.dir("AppData\\LocalLow\\Microsoft", DIR, 0)?;
        for d in APPDATA_DIRS {
            let attrs = if d.ends_with("Credentials") || d.ends_with("Protect") {
                HIDDEN | SYSTEM
            } else {
                0
            };
            self.dir(d, DIR, attrs)?;
        }
        let sid = user.sid.to_string();
        self.dir(
            &format!("AppData\\Roaming\\Microsoft\\Protect\\{sid}"),
            DIR,
            HIDDEN | SYSTEM,
        )?;
        self.dir(
            &format!("AppData\\Roaming\\Microsoft\\Crypto\\RSA\\{sid}"),
            DIR,
            HIDDEN | SYSTEM,
        )?;
        for (family, ac) in PACKAGES {
            if family.starts_with("Microsoft.AAD") && user.kind != crate::names::AccountKind::Entra
            {
                continue;
            }
            let template = PACKAGE.replace("<AC>", ac);
            self.dir(&format!("AppData\\Local\\Packages\\{family}"), &template, 0)?;
            for sub in ["AC", "LocalState", "Settings", "TempState"] {
                self.dir(
                    &format!("AppData\\Local\\Packages\\{family}\\{sub}"),
                    DIR,
                    0,
                )?;
            }
        }
        Ok(())
    }

    /// Descriptors, attributes and KTM companions of the hive files (§6.2).
    pub fn hive_files(&mut self, world: &World, user: &User) -> Result<()> {
        let mut tm = Rng::new(world.seed).fork(&format!("tm-{}", user.name));
        for (dir, hive, log) in [
            ("", "NTUSER.DAT", "ntuser.dat"),
            (
                "AppData\\Local\\Microsoft\\Windows\\",
                "UsrClass.dat",
                "UsrClass.dat",
            ),
        ] {
            let attrs = ARCHIVE | HIDDEN;
            self.existing(&format!("{dir}{hive}"), attrs)?;
            for ext in ["LOG1", "LOG2"] {
                self.existing(&format!("{dir}{log}.{ext}"), ARCHIVE | HIDDEN | SYSTEM)?;
            }
            let g = guid_plain(&tm.guid());
            self.file(
                &format!("{dir}{hive}{{{g}}}.TM.blf"),
                &[],
                65536,
                ARCHIVE | HIDDEN | SYSTEM,
            )?;
            for n in 1..=2 {
                self.file(
                    &format!("{dir}{hive}{{{g}}}.TMContainer{n:020}.regtrans-ms"),
                    &[],
                    524_288,
                    ARCHIVE | HIDDEN | SYSTEM,
                )?;
            }
        }
        self.file("ntuser.ini", b"\r\n[General]\r\n", 0, HIDDEN | SYSTEM)?;
        Ok(())
    }

    /// AppData content bound to the SID (§5, checklist 32); the domain user's DPAPI
    /// state is real (see [`crate::protect`]) and returned.
    pub fn sid_bound(
        &mut self,
        world: &World,
        user: &User,
    ) -> Result<Option<crate::protect::DpapiState>> {
        let sid = user.sid.to_string();
        let key = guid_plain(&self.r.guid());
        let protect = format!("AppData\\Roaming\\Microsoft\\Protect\\{sid}");
        // Drawn for every user, so that the rest of the tree is the same whether the
        // user's DPAPI files are real (the domain user) or filler.
        let blob = self.bytes(740);
        let mut preferred = ntsec::Guid(self.r.guid()).0.to_vec();
        preferred.extend_from_slice(&(user.last_logoff + 90 * crate::names::DAY).to_le_bytes());
        let credhist = self.bytes(24);
        let dpapi = if user.kind == crate::names::AccountKind::Domain {
            let state = crate::protect::build(world, user)?;
            for (rel, bytes) in &state.files {
                self.file(rel, bytes, 0, HIDDEN | SYSTEM | ARCHIVE)?;
            }
            Some(state)
        } else {
            self.file(
                &format!("{protect}\\{key}"),
                &blob,
                0,
                HIDDEN | SYSTEM | ARCHIVE,
            )?;
            self.file(
                &format!("{protect}\\Preferred"),
                &preferred,
                0,
                HIDDEN | SYSTEM | ARCHIVE,
            )?;
            self.file(
                "AppData\\Roaming\\Microsoft\\Protect\\CREDHIST",
                &credhist,
                0,
                HIDDEN | SYSTEM | ARCHIVE,
            )?;
            None
        };
        let machine_guid = guid_plain(&Rng::new(world.seed).fork("machine-guid").guid());
        let rsa = format!(
            "AppData\\Roaming\\Microsoft\\Crypto\\RSA\\{sid}\\{}_{machine_guid}",
            self.r.hex(32)
        );
        let key_file = self.bytes(2446);
        self.file(&rsa, &key_file, 0, HIDDEN | SYSTEM | ARCHIVE)?;
        if user.kind == crate::names::AccountKind::Entra {
            let base = "AppData\\Local\\Packages\\Microsoft.AAD.BrokerPlugin_cw5n1h2txyewy\\AC";
            self.dir(&format!("{base}\\TokenBroker"), DIR, 0)?;
            self.dir(&format!("{base}\\TokenBroker\\Accounts"), DIR, 0)?;
            let name = self.r.hex(40);
            let account = self.bytes(1200);
            self.file(
                &format!("{base}\\TokenBroker\\Accounts\\{name}.tbacct"),
                &account,
                0,
                ARCHIVE,
            )?;
            let name = self.r.hex(40);
            let token = self.bytes(3000);
            self.file(
                &format!("AppData\\Local\\Microsoft\\TokenBroker\\Cache\\{name}.tbres"),
                &token,
                0,
                ARCHIVE,
            )?;
        }
        let wallpaper = self.bytes(4096);
        self.file(
            "AppData\\Roaming\\Microsoft\\Windows\\Themes\\TranscodedWallpaper",
            &wallpaper,
            0,
            ARCHIVE,
        )?;
        for lib in ["Documents", "Music", "Pictures", "Videos"] {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<libraryDescription xmlns=\"http://schemas.microsoft.com/windows/2009/library\"><name>@shell32.dll,-34575</name><searchConnectorDescriptionList><searchConnectorDescription><simpleLocation><url>knownfolder:{lib}</url></simpleLocation></searchConnectorDescription></searchConnectorDescriptionList></libraryDescription>\r\n"
            );
            self.file(
                &format!("AppData\\Roaming\\Microsoft\\Windows\\Libraries\\{lib}.library-ms"),
                xml.as_bytes(),
                0,
                ARCHIVE,
            )?;
        }
        Ok(dpapi)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        for chunk in v.chunks_mut(8) {
            let x = self.r.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
        v
    }

    /// Documents, pictures, downloads… until the tree holds `target` entries.
    pub fn user_files(&mut self, user: &User, target: usize) -> Result<()> {
        const PLACES: [(&str, &[&str]); 8] = [
            ("Documents", &["docx", "xlsx", "pdf", "txt", "pptx"]),
            ("Desktop", &["lnk", "txt", "url"]),
            ("Downloads", &["pdf", "zip", "msi", "exe", "png"]),
            ("Pictures", &["jpg", "png", "heic"]),
            ("Music", &["mp3", "m4a"]),
            ("Videos", &["mp4"]),
            ("AppData\\Local\\Temp", &["tmp", "log"]),
            ("AppData\\Roaming\\Microsoft\\Windows\\Recent", &["lnk"]),
        ];
        const WORDS: [&str; 12] = [
            "Report", "Invoice", "Budget", "Notes", "Meeting", "Plan", "Photo", "Scan", "Draft",
            "Summary", "Contract", "Backup",
        ];
        let mut serial = 0usize;
        let mut project: Option<String> = None;
        while self.stats.files + self.stats.folders + self.stats.junctions < target {
            serial += 1;
            let (place, exts) = PLACES[serial % PLACES.len()];
            let mut dir = place.to_string();
            if place == "Documents" {
                if serial.is_multiple_of(40) || project.is_none() {
                    let p = format!("Documents\\Project {}", serial / 40 + 1);
                    self.dir(&p, DIR, 0)?;
                    project = Some(p);
                }
                if serial.is_multiple_of(3) {
                    dir = project.clone().unwrap_or(dir);
                }
            }
            let ext = exts[serial % exts.len()];
            let word = WORDS[(serial / PLACES.len()) % WORDS.len()];
            let name = format!("{dir}\\{word} {serial}.{ext}");
            let len = 256 + self.r.below(3840) as usize;
            let mut data = format!("{} {} {}\r\n", user.display_name, word, serial).into_bytes();
            data.resize(len, b'.');
            self.file(&name, &data, 0, ARCHIVE)?;
        }
        Ok(())
    }

    /// The legacy junctions with their deny ACE and H+S attributes (§6.3).
    pub fn junctions(&mut self, user: &User) -> Result<()> {
        let sd = self.sds.bytes(JUNCTION)?;
        for (at, target) in JUNCTIONS {
            let depth = at.matches('\\').count();
            let relative = format!("{}{}", "..\\".repeat(depth), target);
            let abs = format!("{}\\{target}", user.profile_path());
            let kind = self
                .ntfs
                .junction(&self.path(at), &abs, &relative, &sd, HIDDEN | SYSTEM)?;
            self.stats.junctions += 1;
            self.stats.junction_kind = Some(kind);
        }
        Ok(())
    }
}

/// A known folder's `desktop.ini` (UTF-16LE with BOM, as Windows writes it).
pub fn desktop_ini(resource: i32) -> Vec<u8> {
    let text = format!(
        "\r\n[.ShellClassInfo]\r\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,{resource}\r\n"
    );
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}
