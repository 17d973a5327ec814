//! The small machine hives besides SOFTWARE: `DEFAULT` (HKU\.DEFAULT), `SECURITY` (LSA
//! policy: account and primary domain, §3.1), and the `NTUSER.DAT` of the Default and
//! service profiles. They are kept minimal: what a profile tool reads, with the
//! descriptor shapes of the real ones.

use std::path::Path;

use ntsec::Sid;

use crate::error::Result;
use crate::names::World;
use crate::regbuild::{HiveStats, RegBuilder, RootSpec, Vars};
use crate::rng::Rng;

/// A small user-style hive owned by `<USER>` (a service SID, or none for Default).
pub fn small_user_hive(
    world: &World,
    owner: Option<&Sid>,
    path: &Path,
    opened_as: &str,
    volume_path: &str,
    rng: &Rng,
) -> Result<HiveStats> {
    let (root, child, vars) = match owner {
        Some(sid) => (
            "O:BAG:SYD:P(A;OICI;KA;;;<USER>)(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;RC)(A;;KR;;;AC)S:AI",
            "O:SYG:SYD:(A;OICIID;KA;;;<USER>)(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)S:AI",
            Vars::default().with("<USER>", sid.to_string()),
        ),
        // The Default profile's hive: the template every new profile is copied from.
        None => (
            "O:BAG:SYD:P(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;BU)(A;OICI;KR;;;RC)(A;;KR;;;AC)",
            "O:BAG:BAD:(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;BU)(A;OICIID;KR;;;RC)",
            Vars::default(),
        ),
    };
    let t = world.machine.installed;
    let mut b = RegBuilder::new(
        volume_path,
        RootSpec {
            root_name: "ROOT",
            minor_version: 5,
            root_sddl: root,
            opened_as,
            timestamp: t,
        },
        vars,
    )?;
    for top in [
        "AppEvents",
        "Console",
        "Control Panel",
        "Environment",
        "EUDC",
        "Keyboard Layout",
        "Printers",
        "Software",
        "System",
    ] {
        b.key_sd(top, child)?;
    }
    let k = b.key("Environment")?;
    b.expand(k, "TEMP", "%USERPROFILE%\\AppData\\Local\\Temp")?;
    b.expand(k, "TMP", "%USERPROFILE%\\AppData\\Local\\Temp")?;
    let k = b.key("Control Panel\\International")?;
    b.sz(k, "LocaleName", "en-US")?;
    let k = b.key("Keyboard Layout\\Preload")?;
    b.sz(k, "1", "00000409")?;
    b.key("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer")?;
    let k = b.key("Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders")?;
    b.expand(k, "Personal", "%USERPROFILE%\\Documents")?;
    b.expand(k, "AppData", "%USERPROFILE%\\AppData\\Roaming")?;
    let log_base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    b.finish(
        path,
        &log_base,
        volume_path,
        (t, t + 3600 * crate::names::SECOND),
        &mut rng.fork(volume_path),
    )
}

/// An LSA policy value: the data of a key's default value, type REG_NONE.
fn policy(b: &mut RegBuilder, name: &str, data: &[u8]) -> Result<()> {
    let k = b.key(&format!("Policy\\{name}"))?;
    b.value(k, "", hive::value::types::NONE, data)
}

/// A UNICODE_STRING as the policy keys store it: lengths, offset 8, text, NUL.
fn unicode_string(text: &str) -> Vec<u8> {
    let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = Vec::with_capacity(8 + units.len() + 2);
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    out.extend_from_slice(&(units.len() as u16 + 2).to_le_bytes());
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&units);
    out.extend_from_slice(&[0, 0]);
    out
}

/// The rights an administrator granted alice's domain SID on this machine (secpol.msc):
/// log on as a batch job and through Remote Desktop, and create symbolic links. An LSA
/// account object keeps each attribute as a subkey's default value (REG_NONE): `Sid`,
/// `ActSysAc` (SECURITY_ACCESS_* bits: 0x4 batch, 0x400 remote interactive), `Privilgs`
/// (a PRIVILEGE_SET: count, control, LUID + attributes; 35 = SeCreateSymbolicLinkPrivilege)
/// and `SecDesc` (the object's own descriptor, modelled on ReactOS lsasrv's
/// `LsapCreateAccountSd`: Everyone read, Administrators and SYSTEM all; not taken from a
/// Windows hive).
fn user_rights(b: &mut RegBuilder, world: &World) -> Result<()> {
    let alice = world.alice()?;
    let base = format!("Policy\\Accounts\\{}", alice.sid);
    b.key(&base)?;
    let mut privileges = Vec::new();
    for v in [1u32, 0, 35, 0, 0] {
        privileges.extend_from_slice(&v.to_le_bytes());
    }
    let sd = ntsec::SecurityDescriptor::from_sddl(
        "O:BAG:SYD:(A;;0x20001;;;WD)(A;;0xf000f;;;BA)(A;;0xf000f;;;SY)",
    )?
    .to_bytes()?;
    for (name, data) in [
        ("Sid", alice.sid.to_bytes()),
        ("ActSysAc", 0x404u32.to_le_bytes().to_vec()),
        ("Privilgs", privileges),
        ("SecDesc", sd),
    ] {
        let k = b.key(&format!("{base}\\{name}"))?;
        b.value(k, "", hive::value::types::NONE, &data)?;
    }
    Ok(())
}

/// `SECURITY`: the LSA policy of a domain member (account domain = this machine, primary
/// domain = CORP) and ten cached-logon slots. Secrets (`$MACHINE.ACC`, `NL$KM`…) and filled
/// `NL$n` entries need the LSA key and are left out.
pub fn security(world: &World, path: &Path, rng: &Rng) -> Result<HiveStats> {
    let m = &world.machine;
    let t = m.installed;
    let mut b = RegBuilder::new(
        "SECURITY",
        RootSpec {
            root_name: "ROOT",
            minor_version: 5,
            root_sddl: "O:SYG:SYD:P(A;CI;KA;;;SY)(A;CI;RCWD;;;BA)",
            opened_as: "\\SystemRoot\\System32\\Config\\SECURITY",
            timestamp: t,
        },
        Vars::default(),
    )?;
    policy(&mut b, "PolAcDmN", &unicode_string(&m.computer_name))?;
    policy(&mut b, "PolAcDmS", &m.machine_sid.to_bytes())?;
    policy(&mut b, "PolPrDmN", &unicode_string(&m.domain.netbios))?;
    policy(&mut b, "PolPrDmS", &m.domain.sid.to_bytes())?;
    policy(&mut b, "PolDnDDN", &unicode_string(&m.domain.dns))?;
    policy(&mut b, "PolDnTrN", &unicode_string(&m.domain.dns))?;
    policy(&mut b, "PolDnDmG", &m.domain.guid)?;
    let computer_rid = 1100 + Rng::new(world.seed).fork("computer-rid").below(8000) as u32;
    policy(
        &mut b,
        "PolMachineAccountS",
        &m.domain.sid.with_rid(computer_rid)?.to_bytes(),
    )?;
    policy(&mut b, "PolRevision", &[0, 0, 0x0A, 0, 0, 0, 0, 0])?;
    for sid in [
        "S-1-1-0",
        "S-1-5-19",
        "S-1-5-20",
        "S-1-5-32-544",
        "S-1-5-32-545",
        "S-1-5-32-551",
    ] {
        b.key(&format!("Policy\\Accounts\\{sid}"))?;
    }
    b.key(&format!("Policy\\Accounts\\{}", m.local(501)?))?;
    user_rights(&mut b, world)?;
    b.key("Policy\\Secrets")?;
    let k = b.key("Cache")?;
    b.binary(k, "NL$Control", &[4, 0, 1, 0, 10, 0, 0, 0])?;
    for i in 1..=10 {
        b.binary(k, &format!("NL${i}"), &[0u8; 168])?;
    }
    b.key("SAM")?;
    b.key("RXACT")?;
    b.finish(
        path,
        "SECURITY",
        "Windows\\System32\\config\\SECURITY",
        (t, t + 3600 * crate::names::SECOND),
        &mut rng.fork("security-times"),
    )
}
