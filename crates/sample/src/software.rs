//! The SOFTWARE hive: ProfileList (service profiles, the three users, alice's `.bak` and
//! TEMP pair), ProfileGuid, Winlogon, LogonUI, the IdentityStore and Group Policy caches
//! that keep the names of domain and Entra accounts, per-user AppX and Installer keys,
//! and the scheduled task registered for a user (windows-profile-state.md §1, §2, §5).
//!
//! Only the keys a profile tool reads are built, under a realistic HKLM descriptor family;
//! a real SOFTWARE hive has hundreds of thousands more.

use std::path::Path;

use crate::error::Result;
use crate::names::{AccountKind, DAY, SECOND, User, World};
use crate::regbuild::{HiveStats, RegBuilder, RootSpec, Vars};
use crate::rng::{Rng, guid_braced};

/// HKLM\SOFTWARE's root.
const ROOT_SD: &str = "O:BAG:SYD:PAI(A;CIIO;GA;;;CO)(A;;KA;;;SY)(A;CIIO;GA;;;SY)(A;;KA;;;BA)(A;CIIO;GA;;;BA)(A;;KR;;;BU)(A;CIIO;GR;;;BU)(A;;KR;;;AC)(A;CIIO;GR;;;AC)";
/// What every key below the root inherits.
const INHERITED: &str = "O:BAG:SYD:AI(A;CIIOID;GA;;;CO)(A;ID;KA;;;SY)(A;CIIOID;GA;;;SY)(A;ID;KA;;;BA)(A;CIIOID;GA;;;BA)(A;ID;KR;;;BU)(A;CIIOID;GR;;;BU)(A;ID;KR;;;AC)(A;CIIOID;GR;;;AC)";
/// Keys only SYSTEM and administrators may change, readable by users (Group Policy state).
const SYSTEM_OWNED: &str = "O:SYG:SYD:PAI(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;AU)(A;CI;KR;;;AC)";

/// The credential provider of the password tile (LogonUI `UserTile`).
pub const PASSWORD_PROVIDER: &str = "{60B78E88-EAD8-445C-9CFD-0B87F74EA6CD}";
/// The CloudAP plug-in of Entra ID, under which LogonCache keeps Sid2Name.
pub const AAD_LOGON_CACHE: &str = "{B16898C6-A148-4967-9171-64D755DA8520}";
/// `ProfileList\<SID>\State` of a temporary profile.
pub const STATE_TEMPORARY: u32 = 0x800;

/// The name of the scheduled task registered for each user (its XML names the SID).
pub fn task_name(user: &User) -> String {
    format!("OneDrive Standalone Update Task-{}", user.sid)
}

/// A task's GUID in TaskCache, fixed per user and seed.
pub fn task_guid(world: &World, user: &User) -> [u8; 16] {
    Rng::new(world.seed)
        .fork(&format!("task-{}", user.name))
        .guid()
}

/// Builds and saves `Windows\System32\config\SOFTWARE`.
pub fn build(world: &World, path: &Path, rng: &Rng) -> Result<HiveStats> {
    let m = &world.machine;
    let mut b = RegBuilder::new(
        "SOFTWARE",
        RootSpec {
            root_name: "ROOT",
            minor_version: 5,
            root_sddl: ROOT_SD,
            opened_as: "\\SystemRoot\\System32\\Config\\SOFTWARE",
            timestamp: m.installed,
        },
        Vars::default(),
    )?;
    let top = b.key("Microsoft")?;
    b.secure(top, INHERITED)?;

    current_version(&mut b, world)?;
    profile_list(&mut b, world)?;
    winlogon(&mut b, world)?;
    logon_ui(&mut b, world)?;
    identity_store(&mut b, world)?;
    group_policy(&mut b, world)?;
    per_user_keys(&mut b, world)?;
    tasks(&mut b, world)?;
    granted_to_alice(&mut b, world)?;
    // An Intune enrollment, its TaskCache entries and certificate (mdm.rs).
    crate::mdm::registry(&mut b, world)?;

    let last = world
        .users
        .iter()
        .map(|u| u.last_logoff)
        .max()
        .unwrap_or(m.installed);
    let mut times = rng.fork("software-times");
    b.finish(
        path,
        "SOFTWARE",
        "Windows\\System32\\config\\SOFTWARE",
        (m.installed, last),
        &mut times,
    )
}

fn current_version(b: &mut RegBuilder, world: &World) -> Result<()> {
    let m = &world.machine;
    let (build, ubr, display) = m.build();
    let k = b.key("Microsoft\\Windows NT\\CurrentVersion")?;
    let unix = (m.installed / SECOND).saturating_sub(11_644_473_600);
    b.sz(k, "SystemRoot", "C:\\WINDOWS")?;
    b.sz(k, "BuildBranch", "vb_release")?;
    b.sz(k, "CurrentBuild", &build.to_string())?;
    b.sz(k, "CurrentBuildNumber", &build.to_string())?;
    b.dword(k, "CurrentMajorVersionNumber", 10)?;
    b.dword(k, "CurrentMinorVersionNumber", 0)?;
    b.sz(k, "CurrentType", "Multiprocessor Free")?;
    b.sz(k, "CurrentVersion", "6.3")?;
    b.sz(k, "DisplayVersion", display)?;
    b.sz(k, "EditionID", "Professional")?;
    b.dword(k, "InstallDate", unix as u32)?;
    b.qword(k, "InstallTime", m.installed)?;
    b.sz(k, "InstallationType", "Client")?;
    b.sz(k, "PathName", "C:\\Windows")?;
    // Windows 11 still says "Windows 10" here.
    b.sz(k, "ProductName", "Windows 10 Pro")?;
    b.sz(k, "RegisteredOrganization", "")?;
    b.sz(k, "RegisteredOwner", "Windows User")?;
    b.sz(k, "ReleaseId", "2009")?;
    b.sz(k, "SoftwareType", "System")?;
    b.dword(k, "UBR", ubr)?;
    let k = b.key("Microsoft\\Windows\\CurrentVersion")?;
    b.sz(k, "ProgramFilesDir", "C:\\Program Files")?;
    b.sz(k, "CommonFilesDir", "C:\\Program Files\\Common Files")?;
    b.sz(k, "ProgramFilesDir (x86)", "C:\\Program Files (x86)")?;
    b.sz(k, "ProgramW6432Dir", "C:\\Program Files")?;
    b.sz(k, "DevicePath", "%SystemRoot%\\inf")?;
    Ok(())
}

fn split(b: &mut RegBuilder, k: u32, name: &str, ft: u64) -> Result<()> {
    b.dword(k, &format!("{name}Low"), ft as u32)?;
    b.dword(k, &format!("{name}High"), (ft >> 32) as u32)
}

/// One `ProfileList\<key>` of a user profile (checklist item 10).
fn profile_key(
    b: &mut RegBuilder,
    key: &str,
    user: &User,
    image_path: &str,
    state: u32,
    loaded: (u64, u64),
) -> Result<()> {
    let k = b.key(&format!(
        "Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{key}"
    ))?;
    b.expand(k, "ProfileImagePath", image_path)?;
    b.dword(k, "Flags", 0)?;
    b.dword(k, "State", state)?;
    b.binary(k, "Sid", &user.sid.to_bytes())?;
    b.dword(k, "FullProfile", 1)?;
    split(b, k, "LocalProfileLoadTime", loaded.0)?;
    split(b, k, "LocalProfileUnloadTime", loaded.1)?;
    split(b, k, "ProfileAttemptedProfileDownloadTime", 0)?;
    split(b, k, "ProfileLoadTime", 0)?;
    b.dword(k, "RefCount", 0)?;
    if user.kind == AccountKind::Domain {
        b.dword(k, "RunLogonScriptSync", 0)?;
        b.dword(k, "NextLogonCacheable", 1)?;
        if let Some(g) = user.guid_string() {
            b.sz(k, "Guid", &g)?;
        }
    }
    Ok(())
}

fn profile_list(b: &mut RegBuilder, world: &World) -> Result<()> {
    let k = b.key("Microsoft\\Windows NT\\CurrentVersion\\ProfileList")?;
    b.expand(k, "Default", "%SystemDrive%\\Users\\Default")?;
    b.expand(k, "ProfilesDirectory", "%SystemDrive%\\Users")?;
    b.expand(k, "ProgramData", "%SystemDrive%\\ProgramData")?;
    b.expand(k, "Public", "%SystemDrive%\\Users\\Public")?;
    // The service profiles as KB 2704233 exports them.
    let k = b.sub(k, "S-1-5-18")?;
    b.dword(k, "Flags", 0xC)?;
    b.expand(
        k,
        "ProfileImagePath",
        "%systemroot%\\system32\\config\\systemprofile",
    )?;
    b.dword(k, "RefCount", 1)?;
    b.binary(k, "Sid", &ntsec::Sid::local_system().to_bytes())?;
    b.dword(k, "State", 0)?;
    for (sid, folder) in [("S-1-5-19", "LocalService"), ("S-1-5-20", "NetworkService")] {
        let k = b.key(&format!(
            "Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{sid}"
        ))?;
        b.expand(
            k,
            "ProfileImagePath",
            &format!("C:\\Windows\\ServiceProfiles\\{folder}"),
        )?;
        b.dword(k, "Flags", 0)?;
        b.dword(k, "State", 0)?;
    }
    for user in &world.users {
        let sid = user.sid.to_string();
        if user.kind == AccountKind::Domain {
            // alice's last logon failed to load her hive: the profile service renamed her
            // key to `.bak` and logged her on with C:\Users\TEMP (deleted at logoff).
            let real = (user.last_logoff - 3 * DAY, user.last_logoff - 2 * DAY);
            profile_key(
                b,
                &format!("{sid}.bak"),
                user,
                &user.profile_path(),
                0,
                real,
            )?;
            let temp = (user.last_logoff - 3600 * SECOND, user.last_logoff);
            profile_key(b, &sid, user, "C:\\Users\\TEMP", STATE_TEMPORARY, temp)?;
        } else {
            let times = (user.last_logoff - 7 * 3600 * SECOND, user.last_logoff);
            profile_key(b, &sid, user, &user.profile_path(), 0, times)?;
        }
        if let (AccountKind::Domain, Some(g)) = (user.kind, user.guid_string()) {
            let k = b.key(&format!(
                "Microsoft\\Windows NT\\CurrentVersion\\ProfileGuid\\{g}"
            ))?;
            b.sz(k, "SidString", &sid)?;
        }
    }
    Ok(())
}

fn winlogon(b: &mut RegBuilder, world: &World) -> Result<()> {
    let k = b.key("Microsoft\\Windows NT\\CurrentVersion\\Winlogon")?;
    b.sz(k, "AutoAdminLogon", "0")?;
    b.sz(k, "CachedLogonsCount", "10")?;
    b.sz(k, "DefaultDomainName", &world.machine.domain.netbios)?;
    b.sz(k, "DefaultUserName", "alice")?;
    b.sz(k, "Shell", "explorer.exe")?;
    b.sz(k, "Userinit", "C:\\Windows\\system32\\userinit.exe,")?;
    b.sz(k, "LegalNoticeCaption", "")?;
    b.sz(k, "LegalNoticeText", "")?;
    b.dword(k, "ForceUnlockLogon", 0)?;
    Ok(())
}

fn logon_ui(b: &mut RegBuilder, world: &World) -> Result<()> {
    let alice = world.alice()?;
    let k = b.key("Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI")?;
    let name = alice.logon_name(&world.machine);
    b.sz(k, "LastLoggedOnDisplayName", &alice.display_name)?;
    b.sz(k, "LastLoggedOnSAMUser", &name)?;
    b.sz(k, "LastLoggedOnUser", &name)?;
    b.sz(k, "LastLoggedOnUserSID", &alice.sid.to_string())?;
    b.sz(k, "LastLoggedOnProvider", PASSWORD_PROVIDER)?;
    b.sz(k, "SelectedUserSID", &alice.sid.to_string())?;
    b.dword(k, "ShowTabletKeyboard", 0)?;
    let tiles = b.sub(k, "UserTile")?;
    for user in &world.users {
        b.sz(tiles, &user.sid.to_string(), PASSWORD_PROVIDER)?;
    }
    b.sub(k, "SessionData")?;
    Ok(())
}

fn identity_store(b: &mut RegBuilder, world: &World) -> Result<()> {
    for user in world.users.iter().filter(|u| u.kind == AccountKind::Entra) {
        let sid = user.sid.to_string();
        let upn = user.upn.clone().unwrap_or_default();
        let k = b.key(&format!(
            "Microsoft\\IdentityStore\\Cache\\{sid}\\IdentityCache\\{sid}"
        ))?;
        b.sz(k, "DisplayName", &user.display_name)?;
        b.sz(k, "ProviderName", "AzureAD")?;
        b.sz(k, "SAMName", &user.name)?;
        b.sz(k, "UserName", &upn)?;
        b.dword(k, "IdentityProvider", 1)?;
        let k = b.key(&format!(
            "Microsoft\\IdentityStore\\LogonCache\\{AAD_LOGON_CACHE}\\Sid2Name\\{sid}"
        ))?;
        b.sz(k, "IdentityName", &upn)?;
        b.sz(k, "DisplayName", &user.display_name)?;
        b.sz(k, "SAMName", &user.name)?;
        let k = b.key(&format!(
            "Microsoft\\IdentityStore\\LogonCache\\{AAD_LOGON_CACHE}\\Name2Sid\\{}",
            upn.to_lowercase()
        ))?;
        b.sz(k, "Sid", &sid)?;
        b.sz(k, "IdentityName", &upn)?;
    }
    Ok(())
}

fn group_policy(b: &mut RegBuilder, world: &World) -> Result<()> {
    let m = &world.machine;
    let d = &m.domain;
    let base = "Microsoft\\Windows\\CurrentVersion\\Group Policy";
    b.key_sd(base, SYSTEM_OWNED)?;
    let computer_dn = format!("CN={},OU=Workstations,{}", m.computer_name, d.dn());
    let k = b.key(&format!("{base}\\State\\Machine"))?;
    b.sz(k, "Distinguished-Name", &computer_dn)?;
    b.sz(k, "SOM-ID", &format!("OU=Workstations,{}", d.dn()))?;
    let k = b.key(&format!("{base}\\DataStore\\Machine\\0"))?;
    b.sz(k, "DNName", &computer_dn)?;
    b.sz(k, "szTargetName", &m.computer_name)?;
    b.sz(k, "szName", &format!("{}.{}", m.computer_name, d.dns))?;
    let gpo = guid_braced(&Rng::new(world.seed).fork("gpo").guid());
    for user in world.users.iter().filter(|u| u.kind == AccountKind::Domain) {
        let sid = user.sid.to_string();
        let user_dn = format!("CN={},OU=Users,OU=Corp,{}", user.display_name, d.dn());
        let k = b.key(&format!("{base}\\State\\{sid}"))?;
        b.sz(k, "Distinguished-Name", &user_dn)?;
        b.sz(k, "SOM-ID", &format!("OU=Users,OU=Corp,{}", d.dn()))?;
        b.dword(k, "Flags", 0)?;
        let k = b.key(&format!("{base}\\DataStore\\{sid}\\0"))?;
        b.sz(k, "szName", &user_dn)?;
        b.sz(k, "szTargetName", &format!("{}\\{}", d.netbios, user.name))?;
        for (i, (name, display)) in [
            (
                "{31B2F340-016D-11D2-945F-00C04FB984F9}",
                "Default Domain Policy",
            ),
            (gpo.as_str(), "Corp User Settings"),
        ]
        .into_iter()
        .enumerate()
        {
            let k = b.key(&format!("{base}\\DataStore\\{sid}\\0\\{i}"))?;
            b.sz(k, "GPOName", name)?;
            b.sz(k, "DisplayName", display)?;
            b.sz(k, "Link", &format!("LDAP://{}", d.dn()))?;
            b.sz(
                k,
                "FileSysPath",
                &format!("\\\\{}\\SysVol\\{}\\Policies\\{name}\\User", d.dns, d.dns),
            )?;
            b.sz(
                k,
                "DSPath",
                &format!("LDAP://CN=User,CN={name},CN=Policies,CN=System,{}", d.dn()),
            )?;
            b.dword(k, "Options", 0)?;
            b.dword(k, "Version", 65537)?;
        }
    }
    Ok(())
}

/// Keys named by a user's SID: AppX registrations and per-user MSI data (§5).
fn per_user_keys(b: &mut RegBuilder, world: &World) -> Result<()> {
    const PACKAGES: [&str; 4] = [
        "Microsoft.WindowsCalculator_11.2307.4.0_x64__8wekyb3d8bbwe",
        "Microsoft.Windows.Photos_2024.11020.21001.0_x64__8wekyb3d8bbwe",
        "Microsoft.WindowsNotepad_11.2312.18.0_x64__8wekyb3d8bbwe",
        "Microsoft.AAD.BrokerPlugin_1000.19580.1000.0_neutral_neutral_cw5n1h2txyewy",
    ];
    let store = "Microsoft\\Windows\\CurrentVersion\\Appx\\AppxAllUserStore";
    b.key(&format!("{store}\\Deprovisioned"))?;
    for user in &world.users {
        let sid = user.sid.to_string();
        for p in PACKAGES {
            let k = b.key(&format!("{store}\\{sid}\\{p}"))?;
            b.sz(
                k,
                "Path",
                &format!("C:\\Program Files\\WindowsApps\\{p}\\AppxManifest.xml"),
            )?;
        }
        b.key(&format!(
            "Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\{sid}\\Products"
        ))?;
    }
    Ok(())
}

/// A line-of-business application's machine key whose installer gave the installing user
/// full control (an explicit, container-inheritable ACE for alice's domain SID), and a
/// subkey that inherits it: two key descriptors in SOFTWARE naming her SID.
fn granted_to_alice(b: &mut RegBuilder, world: &World) -> Result<()> {
    let sid = world.alice()?.sid.to_string();
    let inherited = INHERITED.trim_start_matches("O:BAG:SYD:AI");
    b.key_sd("Contoso", INHERITED)?;
    let k = b.key_sd(
        "Contoso\\FieldSync",
        &format!("O:BAG:SYD:AI(A;CI;KA;;;{sid}){inherited}"),
    )?;
    b.sz(k, "InstallDir", "C:\\Program Files\\Contoso\\FieldSync")?;
    let k = b.key_sd(
        "Contoso\\FieldSync\\Settings",
        &format!("O:BAG:SYD:AI(A;CIID;KA;;;{sid}){inherited}"),
    )?;
    b.dword(k, "SyncIntervalMinutes", 15)?;
    Ok(())
}

/// TaskCache entries of the per-user scheduled tasks (their XML is written by `volume`).
fn tasks(b: &mut RegBuilder, world: &World) -> Result<()> {
    let base = "Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache";
    for user in &world.users {
        let name = task_name(user);
        let guid = guid_braced(&task_guid(world, user));
        let k = b.key(&format!("{base}\\Tree\\{name}"))?;
        b.sz(k, "Id", &guid)?;
        b.dword(k, "Index", 3)?;
        let k = b.key(&format!("{base}\\Tasks\\{guid}"))?;
        b.sz(k, "Path", &format!("\\{name}"))?;
        b.sz(k, "URI", &format!("\\{name}"))?;
        let author = match user.kind {
            AccountKind::Local => format!("{}\\{}", world.machine.computer_name, user.name),
            _ => user.logon_name(&world.machine),
        };
        b.sz(k, "Author", &author)?;
        b.sz(k, "Description", "Keeps OneDrive up to date.")?;
        b.key(&format!("{base}\\Plain\\{guid}"))?;
    }
    Ok(())
}
