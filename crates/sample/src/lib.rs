//! Realistic synthetic Windows 10/11 system volumes for demos, tests and benchmarks.
//!
//! [`create`] lays out a Windows system volume in a folder: `Windows\System32\config` with
//! SYSTEM + SAM (from `crates/sam`), SOFTWARE, SECURITY and DEFAULT, the service and
//! Default profiles, and three user profiles: the domain user `CORP\alice`, the Entra user
//! `AzureAD\bob` and the local user `carol`, each with an `NTUSER.DAT` and a `UsrClass.dat`
//! that look like Windows' own (descriptor families, UserChoice hashes, `<SID>_Classes`),
//! and a tree of files with the legacy junctions; an Intune MDM enrollment (registry,
//! EnterpriseMgmt tasks, device certificate) and alice's Windows Hello container
//! ([`mdm`]). On an NTFS volume mounted with ntfs-3g
//! it also writes real security descriptors and attributes; elsewhere it says it cannot.
//! What a realistic volume must contain is the checklist at the end of
//! `../shared/docs/windows-profile-state.md`.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("admu-sample-doc-{}", std::process::id()));
//! let options = sample::Options { seed: Some(42), files: 120, hive_keys: 800 };
//! let report = sample::create(&dir, &options)?;
//! for user in &report.users {
//!     println!("{} {} {}", user.logon_name, user.sid, user.profile_path);
//! }
//! assert_eq!(report.users[1].logon_name, "AzureAD\\bob");
//! assert!(report.users[1].sid.starts_with("S-1-12-1-"));
//! // Not NTFS here: everything is built, but descriptors are not set, and it says so.
//! assert!(!report.descriptors_set && report.descriptors_note.is_some());
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), sample::Error>(())
//! ```
//!
//! The generator is deterministic for a seed (never the clock or the OS's randomness
//! once a seed is given), streams files as it goes, and grows `NTUSER.DAT` linearly, so
//! benchmarks can ask for hundreds of thousands of keys.

mod error;
pub mod files;
mod filler;
pub mod identity_keys;
pub mod machine;
pub mod mdm;
pub mod names;
pub mod ntfs;
pub mod ntuser;
pub mod protect;
pub mod regbuild;
pub mod regsd;
pub mod rng;
pub mod software;
pub mod system_hives;
pub mod usrclass;
pub mod volume;

use std::hash::{BuildHasher, Hasher};
use std::path::Path;

pub use error::{Error, Result};
pub use files::TreeStats;
pub use identity_keys::UserChoice;
pub use names::{AccountKind, Os, World};
pub use ntfs::JunctionKind;
pub use regbuild::HiveStats;

/// How big a sample to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seed for everything random; `None` draws one (reported, so it can be replayed).
    pub seed: Option<u64>,
    /// Files and folders per user profile.
    pub files: usize,
    /// Keys per user `NTUSER.DAT`.
    pub hive_keys: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: None,
            files: 300,
            hive_keys: 3000,
        }
    }
}

/// One user profile of the sample.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserReport {
    pub kind: AccountKind,
    pub name: String,
    /// `CORP\alice`, `AzureAD\bob`, `.\carol`.
    pub logon_name: String,
    pub display_name: String,
    pub sid: String,
    pub profile_path: String,
    /// The ProfileList key of the real profile (alice's is the `.bak` one).
    pub profile_list_key: String,
    pub ntuser: HiveStats,
    pub usrclass: HiveStats,
    pub tree: TreeStats,
    pub user_choices: Vec<UserChoice>,
}

/// What [`create`] built.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub seed: u64,
    pub os: Os,
    pub computer_name: String,
    pub machine_sid: String,
    pub domain: String,
    pub domain_sid: String,
    pub tenant: String,
    pub users: Vec<UserReport>,
    /// Every hive written, relative to the volume root.
    pub hives: Vec<HiveStats>,
    /// Whether NTFS descriptors and attributes were written.
    pub descriptors_set: bool,
    /// Why not, when they were not.
    pub descriptors_note: Option<String>,
    /// How junctions were made.
    pub junctions: Option<JunctionKind>,
    /// Anything the volume lacks compared with a real one (e.g. symlinks for junctions).
    pub notes: Vec<String>,
    /// The domain user's DPAPI state: master key GUIDs, the preferred one, the
    /// Credential Manager files' targets (never their secrets).
    pub dpapi: Option<protect::DpapiReport>,
    /// The domain's DPAPI backup private key (never written onto the volume; `admu
    /// sample create --dpapi-backup-key OUT.pvk` saves it).
    #[serde(skip)]
    pub dpapi_backup_key: Option<dpapi::BackupKey>,
}

/// A seed from the OS's hash randomness, for runs without `--seed`.
fn fresh_seed() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

fn refuse_existing(dir: &Path) -> Result<()> {
    for sub in ["Windows", "Users"] {
        if dir.join(sub).exists() {
            return Err(Error::Target {
                path: dir.to_path_buf(),
                reason: format!("already has a {sub} folder; give an empty folder or volume"),
            });
        }
    }
    Ok(())
}

/// Builds a sample system volume in `dir` (created if missing; must not hold a
/// `Windows` or `Users` folder yet).
pub fn create(dir: &Path, options: &Options) -> Result<Report> {
    std::fs::create_dir_all(dir).map_err(error::io(dir))?;
    refuse_existing(dir)?;
    let seed = options.seed.unwrap_or_else(fresh_seed);
    let rng = rng::Rng::new(seed);
    let ntfs = ntfs::Ntfs::detect(dir);
    let mut v = volume::Volume::new(dir, &ntfs);
    volume::skeleton(&mut v)?;

    let config = v.path("Windows\\System32\\config");
    let accounts = machine::generate(seed)?;
    let world = names::plan(seed, accounts.machine_sid.clone(), accounts.carol_rid)?;
    let mut hives = machine::write(accounts, &world, &config)?;
    hives.push(software::build(&world, &config.join("SOFTWARE"), &rng)?);
    hives.push(system_hives::security(
        &world,
        &config.join("SECURITY"),
        &rng,
    )?);
    hives.push(system_hives::small_user_hive(
        &world,
        Some(&ntsec::Sid::local_system()),
        &config.join("DEFAULT"),
        "\\SystemRoot\\System32\\Config\\DEFAULT",
        "Windows\\System32\\config\\DEFAULT",
        &rng,
    )?);
    for name in ["SYSTEM", "SAM", "SOFTWARE", "SECURITY", "DEFAULT"] {
        v.hive_file(&format!("Windows\\System32\\config\\{name}"), ntfs::ARCHIVE)?;
    }
    hives.extend(volume::profile_hives(&mut v, &world, &rng)?);

    let users_dir = v.path("Users");
    let mut users = Vec::new();
    let mut junctions = None;
    let mut dpapi = None;
    let mut dpapi_backup_key = None;
    for user in &world.users {
        let mut tree = files::ProfileTree::new(user, &users_dir, &ntfs, &rng)?;
        tree.skeleton(&world, user)?;
        let (nt, user_choices) = ntuser::build(
            &world,
            user,
            &tree.root().join("NTUSER.DAT"),
            options.hive_keys,
            &rng,
        )?;
        let uc_path = tree
            .root()
            .join("AppData")
            .join("Local")
            .join("Microsoft")
            .join("Windows")
            .join("UsrClass.dat");
        let uc = usrclass::build(&world, user, &uc_path, &rng)?;
        tree.hive_files(&world, user)?;
        if let Some(state) = tree.sid_bound(&world, user)? {
            dpapi = Some(state.report);
            dpapi_backup_key = Some(state.backup_key);
        }
        tree.junctions(user)?;
        tree.user_files(user, options.files)?;
        junctions = tree.stats.junction_kind.or(junctions);
        let sid = user.sid.to_string();
        hives.push(nt.clone());
        hives.push(uc.clone());
        users.push(UserReport {
            kind: user.kind,
            name: user.name.clone(),
            logon_name: user.logon_name(&world.machine),
            display_name: user.display_name.clone(),
            profile_list_key: if user.kind == AccountKind::Domain {
                format!("{sid}.bak")
            } else {
                sid.clone()
            },
            sid,
            profile_path: user.profile_path(),
            ntuser: nt,
            usrclass: uc,
            tree: tree.stats.clone(),
            user_choices,
        });
    }
    volume::per_user(&mut v, &world)?;
    volume::shared_folder(&mut v, &world)?;
    // The enrollment's tasks, alice's Hello container, a biometric database (mdm.rs).
    mdm::files(&mut v, &world)?;
    volume::legacy_links(&mut v)?;

    let mut notes = Vec::new();
    if junctions == Some(JunctionKind::Symlink) {
        notes.push("junctions were made as relative symlinks (no NTFS reparse points here)".into());
    }
    let m = &world.machine;
    Ok(Report {
        seed,
        os: m.os,
        computer_name: m.computer_name.clone(),
        machine_sid: m.machine_sid.to_string(),
        domain: format!("{} ({})", m.domain.netbios, m.domain.dns),
        domain_sid: m.domain.sid.to_string(),
        tenant: format!("{} ({})", m.tenant.domain, rng::guid_plain(&m.tenant.id)),
        users,
        hives,
        descriptors_set: ntfs.enabled(),
        descriptors_note: ntfs.unavailable.clone(),
        junctions,
        notes,
        dpapi,
        dpapi_backup_key,
    })
}
