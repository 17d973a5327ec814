//! A user's `UsrClass.dat` (HKCU\Software\Classes): root `<SID>_Classes`, per-user file
//! associations and ProgIDs, packaged-app activation with `Permissions` descriptors naming
//! the user, and `Local Settings` with `MuiCache`, `MrtCache` (key names containing
//! `<SID>-MergedResources-N.pri`), `AppModel` and `AppContainer` (§4.2–4.4).

use std::path::Path;

use crate::error::Result;
use crate::names::{DAY, User, World};
use crate::regbuild::{HiveStats, RegBuilder, RootSpec};
use crate::regsd as sd;
use crate::rng::Rng;

/// Packages: (full name, family name, AppContainer SID of the family).
const PACKAGES: [(&str, &str, &str); 5] = [
    (
        "Microsoft.Windows.ShellExperienceHost_10.0.19041.4355_neutral_neutral_cw5n1h2txyewy",
        "microsoft.windows.shellexperiencehost_cw5n1h2txyewy",
        "S-1-15-2-155514346-2573954481-755741238-1654018636-1233331829-3075935687-2861478708",
    ),
    (
        "Microsoft.WindowsStore_22403.1401.2.0_x64__8wekyb3d8bbwe",
        "microsoft.windowsstore_8wekyb3d8bbwe",
        "S-1-15-2-1609473798-1231923017-684268153-4268514328-882773646-2760585773-1760938157",
    ),
    (
        "Microsoft.WindowsMaps_11.2401.2.0_x64__8wekyb3d8bbwe",
        "microsoft.windowsmaps_8wekyb3d8bbwe",
        "S-1-15-2-1239072475-3687740317-1842961305-3395936705-4023953123-1525404051-2779347315",
    ),
    (
        "Microsoft.WindowsAlarms_11.2401.5.0_x64__8wekyb3d8bbwe",
        "microsoft.windowsalarms_8wekyb3d8bbwe",
        "S-1-15-2-1288279408-4010470124-2163985056-447644096-1946037256-752919663-3751275627",
    ),
    (
        "Microsoft.Windows.AppRep.ChxApp_1000.19041.1023.0_neutral_neutral_cw5n1h2txyewy",
        "microsoft.windows.apprep.chxapp_cw5n1h2txyewy",
        "S-1-15-2-1255970798-2717750985-493741290-1721212560-3530798636-1829112236-3118580706",
    ),
];

/// The root key's name: `<SID>_Classes`.
pub fn root_name(user: &User) -> String {
    format!("{}_Classes", user.sid)
}

/// The `MrtCache` resource file of a package for this user.
pub fn merged_resources(user: &User, n: u32) -> String {
    format!("{}-MergedResources-{n}.pri", user.sid)
}

/// Builds `AppData\Local\Microsoft\Windows\UsrClass.dat`.
pub fn build(world: &World, user: &User, path: &Path, rng: &Rng) -> Result<HiveStats> {
    let mut b = RegBuilder::new(
        &format!("{}\\UsrClass.dat", user.folder),
        RootSpec {
            root_name: &root_name(user),
            minor_version: 3,
            root_sddl: sd::UC_ROOT,
            opened_as: &format!(
                "\\??\\C:\\Users\\{}\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat",
                user.folder
            ),
            timestamp: user.first_logon,
        },
        crate::ntuser::vars(world, user)?,
    )?;
    let mut r = rng.fork(&format!("usrclass-{}", user.name));
    classes(&mut b, &mut r)?;
    activatable(&mut b)?;
    local_settings(&mut b, user, &mut r)?;
    b.finish(
        path,
        "UsrClass.dat",
        &format!(
            "Users\\{}\\AppData\\Local\\Microsoft\\Windows\\UsrClass.dat",
            user.folder
        ),
        (user.first_logon, user.last_logoff),
        &mut r.fork("times"),
    )
}

fn classes(b: &mut RegBuilder, r: &mut Rng) -> Result<()> {
    for ext in [
        ".jpg", ".png", ".pdf", ".txt", ".zip", ".mp4", ".html", ".svg",
    ] {
        let k = b.key_sd(ext, sd::UC_USER)?;
        let l = b.sub(k, "OpenWithProgids")?;
        b.value(
            l,
            &format!("AppX{}", r.alnum(32).to_lowercase()),
            hive::value::types::NONE,
            &[],
        )?;
    }
    let k = b.key_sd("*\\shellex\\ContextMenuHandlers\\OneDrive", sd::UC_USER)?;
    b.sz(k, "", "{CB3D0F55-BC2C-4C1A-85ED-23ED75B5106B}")?;
    b.key_sd("Directory\\shellex\\ContextMenuHandlers", sd::UC_USER)?;
    for _ in 0..6 {
        let id = format!("AppX{}", r.alnum(32).to_lowercase());
        let k = b.key_sd(&format!("{id}\\Shell\\open"), sd::UC_USER)?;
        b.sz(k, "PackageId", PACKAGES[0].0)?;
        let k = b.key(&format!("{id}\\Application"))?;
        b.sz(
            k,
            "AppUserModelID",
            "Microsoft.Windows.Photos_8wekyb3d8bbwe!App",
        )?;
    }
    for clsid in [
        "{021E4F06-9DCC-49AD-88CF-ECC2DA314C8A}",
        "{CB3D0F55-BC2C-4C1A-85ED-23ED75B5106B}",
        "{F241C880-6982-4CE5-8CF7-7085BA96DA5A}",
    ] {
        let k = b.key_sd(&format!("CLSID\\{clsid}\\InprocServer32"), sd::UC_USER)?;
        b.sz(k, "ThreadingModel", "Apartment")?;
    }
    for proto in [
        "ms-settings-connectabledevices",
        "microsoft-edge",
        "msteams",
    ] {
        let k = b.key_sd(proto, sd::UC_USER)?;
        b.sz(k, "URL Protocol", "")?;
    }
    b.key_sd("VirtualStore\\MACHINE\\SOFTWARE\\WOW6432Node", sd::UC_USER)?;
    b.key_sd("WOW6432Node\\CLSID", sd::UC_USER)?;
    Ok(())
}

/// Packaged COM servers with a `Permissions` REG_BINARY descriptor naming the user
/// (Win8-style, §4.3: the user SID inside value data).
fn activatable(b: &mut RegBuilder) -> Result<()> {
    for (full, _, ac) in PACKAGES.iter().take(3) {
        let k = b.key_sd(
            &format!(
                "ActivatableClasses\\Package\\{full}\\Server\\App.AppX{}.mca",
                ac.get(9..17).unwrap_or("0")
            ),
            sd::UC_USER,
        )?;
        let perms = b.sds.bytes(&sd::PERMISSIONS_VALUE.replace("<AC>", ac))?;
        b.binary(k, "Permissions", &perms)?;
        b.expand(
            k,
            "ExePath",
            &format!("C:\\Program Files\\WindowsApps\\{full}\\App.exe"),
        )?;
        b.dword(k, "ServerType", 1)?;
    }
    Ok(())
}

fn local_settings(b: &mut RegBuilder, user: &User, r: &mut Rng) -> Result<()> {
    b.key_sd("Local Settings", sd::UC_LOCAL_SETTINGS)?;
    let k = b.key_sd("Local Settings\\MuiCache\\1a5\\52C64B7E", sd::UC_CACHE)?;
    b.multi(k, "LanguageList", &["en-US", "en"])?;
    b.sz(k, "@%SystemRoot%\\system32\\shell32.dll,-21769", "Desktop")?;
    let k = b.key_sd(
        "Local Settings\\ImmutableMuiCache\\Strings\\52C64B7E",
        sd::UC_CACHE,
    )?;
    b.multi(k, "LanguageList", &["en-US", "en"])?;
    b.sz(
        k,
        "@%SystemRoot%\\system32\\Vault.dll,-1#immutable1",
        "Credential Manager",
    )?;
    b.key_sd("Local Settings\\MrtCache", sd::UC_CACHE)?;
    for (n, (full, _, _)) in PACKAGES.iter().enumerate() {
        let name = format!(
            "C:%5CProgram Files%5CWindowsApps%5C{full}%5CMicrosoft.System.Package.Metadata%5C{}",
            merged_resources(user, (n % 2) as u32)
        );
        let stamp = format!("{:x}", user.first_logon + r.below(200) * DAY);
        let k = b.key(&format!(
            "Local Settings\\MrtCache\\{name}\\{stamp}\\{}",
            r.hex(8)
        ))?;
        b.multi(k, "LanguageList", &["en-US", "en"])?;
        let short = full.split('_').next().unwrap_or(full);
        b.sz(
            k,
            &format!("@{{{full}?ms-resource://{short}/Resources/AppDisplayName}}"),
            short,
        )?;
    }
    let cv = "Local Settings\\Software\\Microsoft\\Windows\\CurrentVersion";
    b.key_sd(
        &format!("{cv}\\AppModel\\Repository\\Packages"),
        sd::UC_REPOSITORY,
    )?;
    b.key_sd(
        &format!("{cv}\\AppModel\\Repository\\Families"),
        sd::UC_REPOSITORY,
    )?;
    for (full, family, ac) in PACKAGES {
        let k = b.key(&format!("{cv}\\AppModel\\Repository\\Packages\\{full}"))?;
        b.sz(k, "PackageID", full)?;
        b.dword(k, "PackageSupportedUsers", 1)?;
        b.key(&format!(
            "{cv}\\AppModel\\Repository\\Families\\{family}\\{full}"
        ))?;
        b.key_sd(
            &format!("{cv}\\AppModel\\SystemAppData\\{family}\\SplashScreen"),
            sd::UC_SYSTEM_APP_DATA,
        )?;
        let k = b.key_sd(
            &format!("{cv}\\AppContainer\\Mappings\\{ac}"),
            &sd::UC_MAPPING.replace("<AC>", ac),
        )?;
        b.sz(k, "DisplayName", family)?;
        b.sz(k, "Moniker", family)?;
        b.key(&format!("{cv}\\AppContainer\\Mappings\\{ac}\\Children"))?;
        let k = b.key_sd(
            &format!("{cv}\\AppContainer\\Storage\\{family}\\ResourcesConfig"),
            &sd::UC_STORAGE.replace("<AC>", ac),
        )?;
        b.sz(
            k,
            "CachedMergedResourcesPriFileName",
            &merged_resources(user, 1),
        )?;
    }
    Ok(())
}
