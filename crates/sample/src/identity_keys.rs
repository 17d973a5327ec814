//! The keys of `NTUSER.DAT` bound to the user's identity: UserChoice keys with hashes
//! valid for the SID (formats.md §5), `ProcessedSearchRoots` naming the SID, and the
//! per-user Group Policy state (`GroupMembership`, `History` with the domain's names).

use crate::error::Result;
use crate::names::{AccountKind, DAY, SECOND, User, World};
use crate::regbuild::RegBuilder;
use crate::regsd as sd;
use crate::rng::Rng;

/// One UserChoice written, with what its hash was computed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserChoice {
    /// Key path inside the hive.
    pub key: String,
    /// Extension or scheme as stored (`.pdf`, `https`).
    pub ext: String,
    pub prog_id: String,
    /// The key's last-written FILETIME the hash was computed for.
    pub last_written: u64,
    pub hash: String,
}

/// File associations: (extension, ProgId).
const FILE_EXTS: [(&str, &str); 8] = [
    (".pdf", "MSEdgePDF"),
    (".htm", "ChromeHTML"),
    (".html", "ChromeHTML"),
    (".txt", "txtfile"),
    (".jpg", "AppX43hnxtbyyps62jhe9sqpdzxn1790zetc"),
    (".mp4", "AppX6eg8h5sxqq90pv53845wmnbewywdqq5h"),
    (".docx", "Word.Document.12"),
    (".xlsx", "Excel.Sheet.12"),
];
/// Protocol associations.
const URL_SCHEMES: [(&str, &str); 3] = [
    ("http", "ChromeHTML"),
    ("https", "ChromeHTML"),
    ("mailto", "Outlook.URL.mailto.15"),
];

/// UserChoice keys with hashes valid for the user's SID (formats.md §5): write the values,
/// then pin the key's time to the one the hash was computed for.
pub fn user_choices(b: &mut RegBuilder, user: &User, r: &mut Rng) -> Result<Vec<UserChoice>> {
    let sid = user.sid.to_string();
    let mut out = Vec::new();
    let files = FILE_EXTS.iter().map(|(e, p)| {
        (
            format!("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\FileExts\\{e}"),
            *e,
            *p,
        )
    });
    let urls = URL_SCHEMES.iter().map(|(e, p)| {
        (
            format!("Software\\Microsoft\\Windows\\Shell\\Associations\\UrlAssociations\\{e}"),
            *e,
            *p,
        )
    });
    for (parent, ext, prog_id) in files.chain(urls).collect::<Vec<_>>() {
        let p = b.key_sd(&parent, sd::USER_APPS)?;
        if parent.contains("FileExts") {
            let l = b.sub(p, "OpenWithList")?;
            b.sz(l, "a", "notepad.exe")?;
            b.sz(l, "MRUList", "a")?;
            let l = b.sub(p, "OpenWithProgids")?;
            b.value(l, prog_id, hive::value::types::NONE, &[])?;
        }
        let k = b.sub(p, "UserChoice")?;
        b.secure(k, sd::USER_CHOICE)?;
        let t = user.first_logon + r.range(1, 40) * DAY + r.below(86_400) * SECOND;
        let hash = hive::userchoice::user_choice_hash(ext, &sid, prog_id, t);
        b.sz(k, "ProgId", prog_id)?;
        b.sz(k, "Hash", &hash)?;
        b.pin(k, t)?;
        out.push(UserChoice {
            key: format!("{parent}\\UserChoice"),
            ext: ext.to_string(),
            prog_id: prog_id.to_string(),
            last_written: t,
            hash,
        });
    }
    Ok(out)
}

/// `Windows Search\ProcessedSearchRoots` with the SID in the default values (§4.4); alice's
/// hive also remembers the local account she used before joining the domain.
pub fn search_roots(b: &mut RegBuilder, world: &World, user: &User) -> Result<()> {
    let sid = user.sid.to_string();
    let mut roots = vec![
        (format!("defaultroot://{{{sid}}}/"), true),
        ("file:///C:\\".to_string(), true),
        (format!("winrt://{{{sid}}}/"), false),
        (format!("csc://{{{sid}}}/"), true),
    ];
    if user.kind == AccountKind::Domain {
        let earlier = world.machine.local(1000)?;
        roots.push((format!("defaultroot://{{{earlier}}}/"), true));
    }
    let base = b.key_sd(
        "Software\\Microsoft\\Windows Search\\ProcessedSearchRoots",
        sd::USER,
    )?;
    for (i, (url, no_connectors)) in roots.iter().enumerate() {
        let k = b.sub(base, &format!("{i:04}"))?;
        b.sz(k, "", url)?;
        b.dword(k, "Version", 0)?;
        if *no_connectors {
            b.dword(k, "DoNotCreateSearchConnectors", 1)?;
        } else {
            let d = b.sub(k, "Default")?;
            b.sz(
                d,
                "SavePath",
                &format!(
                    "{}\\Searches\\winrt--{{{sid}}}-.searchconnector-ms",
                    user.profile_path()
                ),
            )?;
        }
    }
    Ok(())
}

/// `Group Policy` with `GroupMembership` (primary group first) and, for domain users,
/// `History` naming the domain controller and GPO paths (§2.2, §4.4).
pub fn group_policy(b: &mut RegBuilder, world: &World, user: &User) -> Result<()> {
    let base = "Software\\Microsoft\\Windows\\CurrentVersion\\Group Policy";
    b.key_sd(base, sd::GP_ROOT)?;
    let k = b.key_sd(&format!("{base}\\GroupMembership"), sd::GP_CHILD)?;
    let mut groups = vec![user.group.to_string(), "S-1-1-0".into(), "S-1-5-114".into()];
    if user.kind == AccountKind::Local {
        groups.push("S-1-5-32-544".into());
    }
    groups.extend(
        [
            "S-1-5-32-545",
            "S-1-5-4",
            "S-1-2-1",
            "S-1-5-11",
            "S-1-5-15",
            "S-1-2-0",
        ]
        .map(String::from),
    );
    if user.kind == AccountKind::Domain {
        let d = &world.machine.domain.sid;
        groups.push(d.with_rid(1107)?.to_string());
        groups.push(d.with_rid(572)?.to_string());
    }
    groups.push("S-1-16-8192".into());
    for (i, g) in groups.iter().enumerate() {
        b.sz(k, &format!("Group{i}"), g)?;
    }
    b.dword(k, "Count", groups.len() as u32)?;
    let h = b.key_sd(&format!("{base}\\History"), sd::GP_CHILD)?;
    b.key_sd(
        "Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer",
        sd::GP_CHILD,
    )?;
    if user.kind == AccountKind::Domain {
        let d = &world.machine.domain;
        b.sz(h, "DCName", &format!("\\\\{}.{}", d.dc, d.dns))?;
        let k = b.key(&format!(
            "{base}\\History\\{{35378EAC-683F-11D2-A89A-00C04FBBCFA2}}\\0"
        ))?;
        let gpo = "{31B2F340-016D-11D2-945F-00C04FB984F9}";
        b.sz(k, "DisplayName", "Default Domain Policy")?;
        b.sz(k, "GPOName", gpo)?;
        b.sz(
            k,
            "DSPath",
            &format!("LDAP://CN=User,CN={gpo},CN=Policies,CN=System,{}", d.dn()),
        )?;
        b.sz(
            k,
            "FileSysPath",
            &format!("\\\\{}\\SysVol\\{}\\Policies\\{gpo}\\User", d.dns, d.dns),
        )?;
        b.sz(k, "Link", &format!("LDAP://{}", d.dn()))?;
        b.dword(k, "Options", 0)?;
        b.dword(k, "Version", 65537)?;
        b.dword(k, "GPOLink", 3)?;
        let k = b.key("Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Wpad")?;
        b.sz(
            k,
            "WpadOverride",
            &format!("http://wpad.{}/wpad.dat", d.dns),
        )?;
    }
    Ok(())
}
