//! A user's `NTUSER.DAT`: the Windows 10 top-level keys and the keys a profile tool cares
//! about (shell folders, environment, UserChoice, Search roots, Group Policy, LogonUI,
//! OneDrive, mapped drives), under the descriptor families of real hives (§4.2–4.4).
//! `filler` then grows it to the requested number of keys.

use std::path::Path;

use crate::error::Result;
use crate::filler;
use crate::identity_keys::{self, UserChoice};
use crate::names::{AccountKind, DAY, User, World};
use crate::regbuild::{HiveStats, RegBuilder, RootSpec, Vars};
use crate::regsd as sd;
use crate::rng::Rng;

/// Template variables for one user.
pub fn vars(world: &World, user: &User) -> Result<Vars> {
    Ok(Vars::default()
        .with("<USER>", user.sid.to_string())
        .with("<U513>", user.group.to_string())
        .with("<M503>", world.machine.local(503)?.to_string()))
}

/// Builds `NTUSER.DAT` with about `target_keys` keys.
pub fn build(
    world: &World,
    user: &User,
    path: &Path,
    target_keys: usize,
    rng: &Rng,
) -> Result<(HiveStats, Vec<UserChoice>)> {
    let mut b = RegBuilder::new(
        &format!("{}\\NTUSER.DAT", user.folder),
        RootSpec {
            root_name: "ROOT",
            minor_version: 5,
            root_sddl: sd::NT_ROOT,
            opened_as: &format!("\\??\\C:\\Users\\{}\\ntuser.dat", user.folder),
            timestamp: user.first_logon,
        },
        vars(world, user)?,
    )?;
    let mut r = rng.fork(&format!("ntuser-{}", user.name));
    top_level(&mut b, user)?;
    explorer(&mut b, user)?;
    let choices = identity_keys::user_choices(&mut b, user, &mut r)?;
    identity_keys::search_roots(&mut b, world, user)?;
    identity_keys::group_policy(&mut b, world, user)?;
    microsoft(&mut b, world, user)?;
    filler::grow(&mut b, user, target_keys, &mut r.fork("filler"))?;
    let stats = b.finish(
        path,
        "ntuser.dat",
        &format!("Users\\{}\\NTUSER.DAT", user.folder),
        (user.first_logon - 30 * DAY, user.last_logoff),
        &mut r.fork("times"),
    )?;
    Ok((stats, choices))
}

fn top_level(b: &mut RegBuilder, user: &User) -> Result<()> {
    let profile = user.profile_path();
    b.key_sd("AppEvents", sd::TOP_PROTECTED_AC)?;
    for ev in [
        ".Default",
        "AppGPFault",
        "Close",
        "CriticalBatteryAlarm",
        "DeviceConnect",
        "Maximize",
        "MenuPopup",
        "Open",
        "SystemExit",
    ] {
        let k = b.key_sd(&format!("AppEvents\\EventLabels\\{ev}"), sd::INH_SY_AC)?;
        b.sz(k, "", ev.trim_start_matches('.'))?;
        b.sz(k, "DispFileName", "@mmres.dll,-5824")?;
        b.key(&format!(
            "AppEvents\\Schemes\\Apps\\.Default\\{ev}\\.Default"
        ))?;
        let cur = b.key_sd(
            &format!("AppEvents\\Schemes\\Apps\\.Default\\{ev}\\.Current"),
            sd::USER_APPS,
        )?;
        b.expand(cur, "", "%SystemRoot%\\media\\Windows Background.wav")?;
    }
    let k = b.key_sd("Console", sd::INH_SY)?;
    let colors = [
        0u32, 8388608, 32768, 8421376, 128, 8388736, 32896, 12632256, 8421504, 16711680, 65280,
        16776960, 255, 16711935, 65535, 16777215,
    ];
    for (i, c) in colors.iter().enumerate() {
        b.dword(k, &format!("ColorTable{i:02}"), *c)?;
    }
    b.sz(k, "FaceName", "__DefaultTTFont__")?;
    b.dword(k, "FontSize", 1_048_576)?;
    b.dword(k, "QuickEdit", 1)?;
    b.dword(k, "ScreenBufferSize", 589_889_656)?;
    let k = b.key("Console\\%SystemRoot%_System32_WindowsPowerShell_v1.0_powershell.exe")?;
    b.sz(k, "FaceName", "Lucida Console")?;
    b.dword(k, "ScreenColors", 86)?;

    b.key_sd("Control Panel", sd::TOP_PROTECTED)?;
    let k = b.key_sd("Control Panel\\Desktop", sd::INH_SY_APPS)?;
    for (name, v) in [
        ("CursorBlinkRate", "530"),
        ("DragFullWindows", "1"),
        ("FontSmoothing", "2"),
        ("MenuShowDelay", "400"),
        ("ScreenSaveActive", "1"),
        ("WallpaperStyle", "10"),
        ("WheelScrollLines", "3"),
    ] {
        b.sz(k, name, v)?;
    }
    b.sz(
        k,
        "WallPaper",
        &format!("{profile}\\AppData\\Roaming\\Microsoft\\Windows\\Themes\\TranscodedWallpaper"),
    )?;
    b.dword(k, "Win8DpiScaling", 1)?;
    b.binary(
        k,
        "UserPreferencesMask",
        &[0x9E, 0x1E, 0x07, 0x80, 0x12, 0x00, 0x00, 0x00],
    )?;
    for sub in [
        "Accessibility",
        "Appearance",
        "Colors",
        "Input Method",
        "International",
        "Keyboard",
        "Mouse",
        "PowerCfg",
        "Sound",
    ] {
        b.key_sd(&format!("Control Panel\\{sub}"), sd::INH_SY_APPS)?;
    }
    let k = b.key("Control Panel\\International")?;
    for (name, v) in [
        ("Locale", "00000409"),
        ("LocaleName", "en-US"),
        ("sCountry", "United States"),
        ("sShortDate", "M/d/yyyy"),
        ("sTimeFormat", "h:mm:ss tt"),
    ] {
        b.sz(k, name, v)?;
    }
    let k = b.key_sd("Control Panel\\Cursors", sd::USER)?;
    b.sz(k, "", "Windows Default")?;
    b.expand(k, "Arrow", "%SystemRoot%\\cursors\\aero_arrow.cur")?;
    b.key_sd(
        "Control Panel\\Personalization\\Desktop Slideshow",
        sd::USER_APPS,
    )?;

    let k = b.key_sd("Environment", sd::TOP_PROTECTED)?;
    b.expand(
        k,
        "Path",
        "%USERPROFILE%\\AppData\\Local\\Microsoft\\WindowsApps;",
    )?;
    b.expand(k, "TEMP", "%USERPROFILE%\\AppData\\Local\\Temp")?;
    b.expand(k, "TMP", "%USERPROFILE%\\AppData\\Local\\Temp")?;
    b.sz(k, "OneDrive", &format!("{profile}\\OneDrive"))?;

    b.key_sd("EUDC", sd::TOP_PROTECTED)?;
    for cp in ["932", "936", "949", "950"] {
        let k = b.key(&format!("EUDC\\{cp}"))?;
        b.sz(k, "SystemDefaultEUDCFont", "EUDC.TTE")?;
    }
    b.key_sd("Keyboard Layout", sd::KEYBOARD_LAYOUT)?;
    let k = b.key("Keyboard Layout\\Preload")?;
    b.sz(k, "1", "00000409")?;
    b.key("Keyboard Layout\\Substitutes")?;
    b.key("Keyboard Layout\\Toggle")?;

    b.key_sd("Network", sd::INH_BA)?;
    if user.kind == AccountKind::Domain {
        let k = b.key_sd("Network\\H", sd::ADMIN_CREATED)?;
        b.sz(
            k,
            "RemotePath",
            &format!("\\\\fs01.corp.example.com\\home\\{}", user.name),
        )?;
        b.dword(k, "UserName", 0)?;
        b.sz(k, "ProviderName", "Microsoft Windows Network")?;
        b.dword(k, "ProviderType", 0x20000)?;
        b.dword(k, "ConnectionType", 1)?;
        b.dword(k, "DeferFlags", 4)?;
    }
    b.key_sd("Printers", sd::INH_BA)?;
    b.key_sd("Printers\\Connections", sd::USER_APPS)?;
    b.key_sd("Printers\\DevModePerUser", sd::USER_APPS)?;
    b.key("Printers\\DevModes2")?;

    b.key_sd("Software", sd::SOFTWARE)?;
    for p in [
        "Software\\Microsoft",
        "Software\\Microsoft\\Windows",
        "Software\\Microsoft\\Windows\\CurrentVersion",
    ] {
        b.key_sd(p, sd::SOFTWARE)?;
    }
    b.key_sd("Software\\AppDataLow", sd::APPDATA_LOW)?;
    b.key_sd(
        "Software\\AppDataLow\\Software\\Microsoft\\Internet Explorer",
        sd::APPDATA_LOW_CHILD,
    )?;
    b.key_sd("System", sd::INH_SY)?;
    b.key("System\\CurrentControlSet\\Control\\Network")?;
    let k = b.key_sd("System\\GameConfigStore", sd::USER)?;
    b.dword(k, "GameDVR_Enabled", 1)?;
    b.dword(k, "GameDVR_FSEBehaviorMode", 2)?;
    Ok(())
}

/// `Shell Folders` (absolute) and `User Shell Folders` (`%USERPROFILE%`), §6.4.
fn explorer(b: &mut RegBuilder, user: &User) -> Result<()> {
    const FOLDERS: [(&str, &str); 20] = [
        ("AppData", "AppData\\Roaming"),
        ("Cache", "AppData\\Local\\Microsoft\\Windows\\INetCache"),
        ("Cookies", "AppData\\Local\\Microsoft\\Windows\\INetCookies"),
        ("Desktop", "Desktop"),
        ("Favorites", "Favorites"),
        ("History", "AppData\\Local\\Microsoft\\Windows\\History"),
        ("Local AppData", "AppData\\Local"),
        ("My Music", "Music"),
        ("My Pictures", "Pictures"),
        ("My Video", "Videos"),
        (
            "NetHood",
            "AppData\\Roaming\\Microsoft\\Windows\\Network Shortcuts",
        ),
        ("Personal", "Documents"),
        (
            "PrintHood",
            "AppData\\Roaming\\Microsoft\\Windows\\Printer Shortcuts",
        ),
        (
            "Programs",
            "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs",
        ),
        ("Recent", "AppData\\Roaming\\Microsoft\\Windows\\Recent"),
        ("SendTo", "AppData\\Roaming\\Microsoft\\Windows\\SendTo"),
        (
            "Start Menu",
            "AppData\\Roaming\\Microsoft\\Windows\\Start Menu",
        ),
        (
            "Startup",
            "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup",
        ),
        (
            "Templates",
            "AppData\\Roaming\\Microsoft\\Windows\\Templates",
        ),
        ("{374DE290-123F-4565-9164-39C4925E467B}", "Downloads"),
    ];
    const EXTRA: [(&str, &str); 10] = [
        (
            "{1B3EA5DC-B587-4786-B4EF-BD1DC332AEAE}",
            "AppData\\Roaming\\Microsoft\\Windows\\Libraries",
        ),
        ("{56784854-C6CB-462B-8169-88E350ACB882}", "Contacts"),
        (
            "{00BCFC5A-ED94-4E48-96A1-3F6217F21990}",
            "AppData\\Local\\Microsoft\\Windows\\RoamingTiles",
        ),
        (
            "CD Burning",
            "AppData\\Local\\Microsoft\\Windows\\Burn\\Burn",
        ),
        ("{7D1D3A04-DEBB-4115-95CF-2F29DA2920DA}", "Searches"),
        (
            "{A520A1A4-1780-4FF6-BD18-167343C5AF16}",
            "AppData\\LocalLow",
        ),
        (
            "Administrative Tools",
            "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Administrative Tools",
        ),
        ("{BFB9D5E0-C6A9-404C-B2B2-AE6DB6AF4968}", "Links"),
        ("{4C5C32FF-BB9D-43B0-B5B4-2D72E54EAAA4}", "Saved Games"),
        ("{31C0DD25-9439-4F12-BF41-7FF4EDA38722}", "3D Objects"),
    ];
    let profile = user.profile_path();
    let base = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer";
    b.key_sd(base, sd::INH_SY)?;
    let usf = b.key(&format!("{base}\\User Shell Folders"))?;
    let sf = b.key_sd(&format!("{base}\\Shell Folders"), sd::USER)?;
    b.sz(
        sf,
        "!Do not use this registry key",
        "Use the SHGetFolderPath or SHGetKnownFolderPath function instead",
    )?;
    for (name, rel) in FOLDERS {
        b.expand(usf, name, &format!("%USERPROFILE%\\{rel}"))?;
        b.sz(sf, name, &format!("{profile}\\{rel}"))?;
    }
    for (name, rel) in EXTRA {
        b.sz(sf, name, &format!("{profile}\\{rel}"))?;
    }
    b.sz(sf, "Fonts", "C:\\Windows\\Fonts")?;
    let k = b.key_sd(&format!("{base}\\Advanced"), sd::USER)?;
    b.dword(k, "Hidden", 2)?;
    b.dword(k, "HideFileExt", 1)?;
    b.dword(k, "TaskbarAl", 1)?;
    let k = b.key_sd(&format!("{base}\\TypedPaths"), sd::USER)?;
    b.sz(k, "url1", &format!("{profile}\\Documents"))?;
    b.key_sd(
        &format!("{base}\\MountPoints2\\{{8c1b5a3e-0000-0000-0000-100000000000}}"),
        sd::ADMIN_CREATED,
    )?;
    let k = b.key_sd(
        "Software\\Microsoft\\Windows\\CurrentVersion\\Run",
        sd::USER,
    )?;
    b.sz(
        k,
        "OneDrive",
        &format!("\"{profile}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background"),
    )?;
    Ok(())
}

/// The rest of `Software\Microsoft`: IE, certificates, EventSystem, TrustedInstaller keys,
/// LogonUI, DeviceAccess, CloudStore, Search, Policies, OneDrive, Office.
fn microsoft(b: &mut RegBuilder, world: &World, user: &User) -> Result<()> {
    let sid = user.sid.to_string();
    let profile = user.profile_path();
    let cv = "Software\\Microsoft\\Windows\\CurrentVersion";
    let k = b.key_sd("Software\\Microsoft\\Internet Explorer\\Main", sd::INH_SY)?;
    b.sz(k, "Start Page", "https://www.msn.com/")?;
    for low in ["LowMic", "GPU", "IntelliForms", "Zoom"] {
        b.key_sd(
            &format!("Software\\Microsoft\\Internet Explorer\\{low}"),
            sd::IE_LOW,
        )?;
    }
    b.key_sd(
        "Software\\Microsoft\\Internet Explorer\\User Preferences",
        sd::IE_DENY,
    )?;
    b.key_sd(
        "Software\\Microsoft\\Internet Explorer\\Approved Extensions",
        sd::IE_DENY,
    )?;
    b.key_sd(
        &format!("Software\\Microsoft\\Internet Explorer\\InternetRegistry\\REGISTRY\\USER\\{sid}"),
        sd::APPDATA_LOW_CHILD,
    )?;
    b.key_sd("Software\\Microsoft\\SystemCertificates", sd::SYSTEM_CERTS)?;
    for store in [
        "CA\\Certificates",
        "My\\Certificates",
        "Root\\Certificates",
        "Trust\\Certificates",
    ] {
        b.key(&format!("Software\\Microsoft\\SystemCertificates\\{store}"))?;
    }
    b.key_sd(
        "Software\\Microsoft\\SystemCertificates\\Root\\ProtectedRoots",
        sd::PROTECTED_ROOTS,
    )?;
    b.key_sd(
        "Software\\Microsoft\\EventSystem\\{26c409cc-ae86-11d1-b616-00805fc79216}",
        sd::EVENT_SYSTEM,
    )?;
    b.key_sd("Software\\Microsoft\\EventSystem", sd::EVENT_SYSTEM)?;
    for ti in ["Pim", "Poom", "Unified Store"] {
        b.key_sd(&format!("Software\\Microsoft\\{ti}"), sd::TI_OWNED)?;
    }
    let k = b.key_sd(&format!("{cv}\\Authentication\\LogonUI"), sd::LOGONUI)?;
    b.dword(k, "FirstLogonAnimation", 0)?;
    b.key(&format!(
        "{cv}\\Authentication\\LogonUI\\Notifications\\BackgroundCapability"
    ))?;
    for g in [
        "{2EEF81BE-33FA-4800-9670-1CD474972C3F}",
        "{E5323777-F976-4F5B-9B55-B94699C46E44}",
        "LooselyCoupled",
    ] {
        let k = b.key_sd(
            &format!("{cv}\\DeviceAccess\\Global\\{g}"),
            sd::DEVICE_ACCESS,
        )?;
        b.sz(k, "Value", "Allow")?;
    }
    for c in [
        "$$windows.data.bluelightreduction.bluelightreductionstate",
        "$$windows.data.unifiedtile.startglobalproperties",
    ] {
        let k = b.key_sd(
            &format!("{cv}\\CloudStore\\Store\\Cache\\DefaultAccount\\{c}\\Current"),
            sd::CLOUD_STORE,
        )?;
        b.binary(k, "Data", &[0x02, 0x00, 0x00, 0x00, 0x4B, 0x1E, 0x2C, 0x9F])?;
    }
    b.key_sd(&format!("{cv}\\Search"), sd::SEARCH)?;
    let k = b.key_sd(
        &format!("{cv}\\Search\\Flighting\\0\\CloudAgent_GlobalShell"),
        sd::SEARCH_CHILD,
    )?;
    b.dword(k, "Enabled", 1)?;
    b.key_sd("Software\\Policies", sd::POLICIES)?;
    for p in [
        "Microsoft",
        "Microsoft\\SystemCertificates",
        "Microsoft\\Windows\\CurrentVersion",
        "Microsoft\\Windows\\CloudContent",
    ] {
        b.key_sd(&format!("Software\\Policies\\{p}"), sd::POLICIES_CHILD)?;
    }
    // OneDrive and Office remember the account and the absolute profile path (§5).
    let account = if user.kind == AccountKind::Local {
        "Personal"
    } else {
        "Business1"
    };
    let k = b.key_sd(
        &format!("Software\\Microsoft\\OneDrive\\Accounts\\{account}"),
        sd::USER,
    )?;
    b.sz(k, "UserFolder", &format!("{profile}\\OneDrive"))?;
    let email = user
        .upn
        .clone()
        .unwrap_or_else(|| format!("{}@outlook.com", user.name));
    b.sz(k, "UserEmail", &email)?;
    b.sz(k, "DisplayName", &user.display_name)?;
    b.sz(k, "cid", &Rng::new(world.seed).fork(&user.name).hex(16))?;
    let k = b.key_sd(
        "Software\\Microsoft\\Office\\16.0\\Common\\UserInfo",
        sd::USER,
    )?;
    b.sz(k, "UserName", &user.display_name)?;
    b.sz(
        k,
        "UserInitials",
        &user
            .display_name
            .split(' ')
            .filter_map(|w| w.chars().next())
            .collect::<String>(),
    )?;
    if user.kind == AccountKind::Domain {
        // Win7-era leftovers naming the SID in a key name, without the user in the SD.
        b.key_sd(
            &format!("Software\\Microsoft\\Protected Storage System Provider\\{sid}"),
            "O:BAG:SYD:(A;CI;KA;;;SY)",
        )?;
    }
    if user.kind == AccountKind::Entra {
        let k = b.key_sd(
            "Software\\Microsoft\\IdentityCRL\\UserExtendedProperties",
            sd::USER,
        )?;
        b.sz(k, "Name", user.upn.as_deref().unwrap_or_default())?;
        let k = b.key_sd(
            &format!(
                "Software\\Microsoft\\Windows NT\\CurrentVersion\\WorkplaceJoin\\AADNGC\\{}",
                crate::rng::guid_braced(&world.machine.tenant.id)
            ),
            sd::USER,
        )?;
        b.sz(k, "UserId", user.upn.as_deref().unwrap_or_default())?;
    }
    Ok(())
}
