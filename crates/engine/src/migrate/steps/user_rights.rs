//! The user rights Windows' LSA keeps per account in the SECURITY hive, and the edits
//! that carry them to the new SID.
//!
//! `Policy\Accounts\<SID>` is one LSA account object: each attribute is a subkey whose
//! default value (REG_NONE) holds it: `Sid` (the account's binary SID), `ActSysAc` (a
//! 4-byte mask of logon rights, `SECURITY_ACCESS_*` of ntsecapi.h), `Privilgs` (a
//! `PRIVILEGE_SET`: count, control, then LUID and attributes per privilege) and `SecDesc`
//! (the account object's own descriptor). Sources: ReactOS `dll/win32/lsasrv`
//! (`LsarCreateAccount` sets `Sid`, `SecDesc`; `LsarSetSystemAccessAccount` writes
//! `ActSysAc`, `LsarAddPrivilegesToAccount` writes `Privilgs`), RegRipper's `secpol.pl`
//! (reads the same subkeys) and the mask bits measured against `secedit /export` in
//! Microsoft's Azure VM repair scripts (`win-fix-user-rights`). Not verified on Windows
//! by admu itself (docs/windows-verification.md).

use ntsec::Sid;

use crate::error::Result;
use crate::host::{MachineHive, RegEdit, Registry};

/// Where LSA keeps its account objects in SECURITY.
pub(crate) const ACCOUNTS: &str = r"Policy\Accounts";

/// The `ActSysAc` bits (`SECURITY_ACCESS_*`, ntsecapi.h) and their user-right names.
const LOGON_RIGHTS: [(u32, &str); 11] = [
    (0x001, "SeInteractiveLogonRight"),
    (0x002, "SeNetworkLogonRight"),
    (0x004, "SeBatchLogonRight"),
    (0x010, "SeServiceLogonRight"),
    (0x020, "SeProxyLogonRight"),
    (0x040, "SeDenyInteractiveLogonRight"),
    (0x080, "SeDenyNetworkLogonRight"),
    (0x100, "SeDenyBatchLogonRight"),
    (0x200, "SeDenyServiceLogonRight"),
    (0x400, "SeRemoteInteractiveLogonRight"),
    (0x800, "SeDenyRemoteInteractiveLogonRight"),
];

/// Privilege names by LUID (2 = SeCreateTokenPrivilege … 36 = SeDelegateSessionUserImpersonatePrivilege).
const PRIVILEGES: [&str; 35] = [
    "SeCreateTokenPrivilege",
    "SeAssignPrimaryTokenPrivilege",
    "SeLockMemoryPrivilege",
    "SeIncreaseQuotaPrivilege",
    "SeMachineAccountPrivilege",
    "SeTcbPrivilege",
    "SeSecurityPrivilege",
    "SeTakeOwnershipPrivilege",
    "SeLoadDriverPrivilege",
    "SeSystemProfilePrivilege",
    "SeSystemtimePrivilege",
    "SeProfileSingleProcessPrivilege",
    "SeIncreaseBasePriorityPrivilege",
    "SeCreatePagefilePrivilege",
    "SeCreatePermanentPrivilege",
    "SeBackupPrivilege",
    "SeRestorePrivilege",
    "SeShutdownPrivilege",
    "SeDebugPrivilege",
    "SeAuditPrivilege",
    "SeSystemEnvironmentPrivilege",
    "SeChangeNotifyPrivilege",
    "SeRemoteShutdownPrivilege",
    "SeUndockPrivilege",
    "SeSyncAgentPrivilege",
    "SeEnableDelegationPrivilege",
    "SeManageVolumePrivilege",
    "SeImpersonatePrivilege",
    "SeCreateGlobalPrivilege",
    "SeTrustedCredManAccessPrivilege",
    "SeRelabelPrivilege",
    "SeIncreaseWorkingSetPrivilege",
    "SeTimeZonePrivilege",
    "SeCreateSymbolicLinkPrivilege",
    "SeDelegateSessionUserImpersonatePrivilege",
];

/// The names of the rights in an `ActSysAc` mask.
pub(crate) fn logon_rights(mask: u32) -> Vec<String> {
    LOGON_RIGHTS
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, name)| (*name).to_string())
        .collect()
}

/// The privileges of a `Privilgs` value as (LUID low part, LUID high part, attributes),
/// or `None` when it is not a well-formed `PRIVILEGE_SET`.
pub(crate) fn parse_privileges(data: &[u8]) -> Option<Vec<(u32, u32, u32)>> {
    let u32_at = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let count = usize::try_from(u32_at(0)?).ok()?;
    if data.len() != 8 + count.checked_mul(12)? {
        return None;
    }
    (0..count)
        .map(|i| {
            let at = 8 + 12 * i;
            Some((u32_at(at)?, u32_at(at + 4)?, u32_at(at + 8)?))
        })
        .collect()
}

/// A `PRIVILEGE_SET` (control 0) of these privileges.
fn encode_privileges(privileges: &[(u32, u32, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 12 * privileges.len());
    out.extend_from_slice(&(privileges.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for (low, high, attributes) in privileges {
        out.extend_from_slice(&low.to_le_bytes());
        out.extend_from_slice(&high.to_le_bytes());
        out.extend_from_slice(&attributes.to_le_bytes());
    }
    out
}

/// A privilege's name by LUID.
pub(crate) fn privilege_name(low: u32, high: u32) -> String {
    match (high, low.checked_sub(2)) {
        (0, Some(i)) => PRIVILEGES
            .get(i as usize)
            .map_or_else(|| format!("privilege {low}"), |n| (*n).to_string()),
        _ => format!("privilege {high:#x}:{low:#x}"),
    }
}

/// The default value of an attribute subkey of an account object.
fn attribute(host: &dyn Registry, account: &str, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(host
        .key(MachineHive::Security, &format!(r"{account}\{name}"))?
        .and_then(|k| k.value("").map(|v| v.data.clone())))
}

/// What the old SID holds, for people: rights and privileges by name.
pub(crate) fn describe(host: &dyn Registry, old: &Sid) -> Result<Vec<String>> {
    let account = format!(r"{ACCOUNTS}\{old}");
    let mut out = Vec::new();
    if let Some(mask) = attribute(host, &account, "ActSysAc")?
        && let Some(b) = mask.get(..4)
    {
        out.extend(logon_rights(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    }
    if let Some(p) = attribute(host, &account, "Privilgs")? {
        match parse_privileges(&p) {
            Some(list) => out.extend(list.iter().map(|(l, h, _)| privilege_name(*l, *h))),
            None => out.push("privileges in an unknown layout (copied as they are)".into()),
        }
    }
    Ok(out)
}

fn set_default(path: String, data: Vec<u8>) -> RegEdit {
    RegEdit::SetValue {
        path,
        name: String::new(),
        kind: hive::value::types::NONE,
        data,
    }
}

/// The edits that give the new SID the old SID's rights: `Policy\Accounts\<old>` copied
/// to `<new>` with its `Sid` attribute set to the new SID (the old object is kept); when
/// the new SID has an account object already (an existing account), its logon rights and
/// privileges become the union of both. Empty when the old SID holds no rights.
pub(crate) fn user_rights_edits(host: &dyn Registry, old: &Sid, new: &Sid) -> Result<Vec<RegEdit>> {
    let sec = MachineHive::Security;
    let from = format!(r"{ACCOUNTS}\{old}");
    let to = format!(r"{ACCOUNTS}\{new}");
    let Some(source) = host.key(sec, &from)? else {
        return Ok(Vec::new());
    };
    let mut edits = Vec::new();
    let Some(target) = host.key(sec, &to)? else {
        super::machine_keys::copy_tree(host, sec, &from, &to, &mut edits)?;
        let sid_key = format!(r"{to}\Sid");
        let mut has_sid = false;
        for e in &mut edits {
            if let RegEdit::SetValue {
                path, name, data, ..
            } = e
                && path.eq_ignore_ascii_case(&sid_key)
                && name.is_empty()
            {
                *data = new.to_bytes();
                has_sid = true;
            }
        }
        if !has_sid {
            edits.push(RegEdit::CreateKey {
                path: sid_key.clone(),
            });
            edits.push(set_default(sid_key, new.to_bytes()));
        }
        return Ok(edits);
    };
    for sub in &source.subkeys {
        let has = |n: &str| target.subkeys.iter().any(|k| k.eq_ignore_ascii_case(n));
        let (src, dst) = (format!(r"{from}\{sub}"), format!(r"{to}\{sub}"));
        if !has(sub) {
            if !sub.eq_ignore_ascii_case("Sid") {
                super::machine_keys::copy_tree(host, sec, &src, &dst, &mut edits)?;
            }
            continue;
        }
        let (Some(a), Some(b)) = (attribute(host, &from, sub)?, attribute(host, &to, sub)?) else {
            continue;
        };
        if sub.eq_ignore_ascii_case("ActSysAc") && a.len() == 4 && b.len() == 4 {
            let or: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x | y).collect();
            if or != b {
                edits.push(set_default(dst, or));
            }
        } else if sub.eq_ignore_ascii_case("Privilgs")
            && let (Some(pa), Some(mut pb)) = (parse_privileges(&a), parse_privileges(&b))
        {
            let before = pb.len();
            for p in pa {
                if !pb.iter().any(|q| (q.0, q.1) == (p.0, p.1)) {
                    pb.push(p);
                }
            }
            if pb.len() != before {
                edits.push(set_default(dst, encode_privileges(&pb)));
            }
        }
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_and_privileges_decode_and_round_trip() {
        assert_eq!(
            logon_rights(0x404),
            ["SeBatchLogonRight", "SeRemoteInteractiveLogonRight"]
        );
        let set = encode_privileges(&[(35, 0, 0), (19, 0, 0)]);
        assert_eq!(set.len(), 8 + 24);
        let back = parse_privileges(&set).expect("a PRIVILEGE_SET");
        assert_eq!(back, [(35, 0, 0), (19, 0, 0)]);
        assert_eq!(privilege_name(35, 0), "SeCreateSymbolicLinkPrivilege");
        assert_eq!(privilege_name(19, 0), "SeShutdownPrivilege");
        assert_eq!(privilege_name(99, 0), "privilege 99");
        assert!(parse_privileges(&set[..set.len() - 1]).is_none());
        assert!(parse_privileges(&[1, 0, 0]).is_none());
    }
}
