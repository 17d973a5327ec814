//! Well-known SIDs: their names and SDDL aliases (`sddl.h`, [MS-DTYP] §2.4.2.4).
//!
//! Two tables: SIDs that mean the same on every machine, and RIDs that are well known
//! inside any domain (`S-1-5-21-X-Y-Z-512` = Domain Admins). Every alias names exactly
//! one SID, so rendering an alias and parsing it back gives the same SID.

use crate::sid::Sid;

struct Absolute {
    alias: Option<&'static str>,
    authority: u64,
    sub_authorities: &'static [u32],
    name: &'static str,
}

struct DomainRelative {
    alias: Option<&'static str>,
    rid: u32,
    name: &'static str,
}

const fn absolute(
    alias: Option<&'static str>,
    authority: u64,
    sub_authorities: &'static [u32],
    name: &'static str,
) -> Absolute {
    Absolute {
        alias,
        authority,
        sub_authorities,
        name,
    }
}

const fn relative(alias: Option<&'static str>, rid: u32, name: &'static str) -> DomainRelative {
    DomainRelative { alias, rid, name }
}

#[rustfmt::skip]
static ABSOLUTE: &[Absolute] = &[
    absolute(None, 0, &[0], "NULL SID"),
    absolute(Some("WD"), 1, &[0], "Everyone"),
    absolute(None, 2, &[0], "LOCAL"),
    absolute(None, 2, &[1], "CONSOLE LOGON"),
    absolute(Some("CO"), 3, &[0], "CREATOR OWNER"),
    absolute(Some("CG"), 3, &[1], "CREATOR GROUP"),
    absolute(None, 3, &[2], "CREATOR OWNER SERVER"),
    absolute(None, 3, &[3], "CREATOR GROUP SERVER"),
    absolute(Some("OW"), 3, &[4], "OWNER RIGHTS"),
    absolute(None, 5, &[], "NT AUTHORITY"),
    absolute(None, 5, &[1], "DIALUP"),
    absolute(Some("NU"), 5, &[2], "NETWORK"),
    absolute(None, 5, &[3], "BATCH"),
    absolute(Some("IU"), 5, &[4], "INTERACTIVE"),
    absolute(Some("SU"), 5, &[6], "SERVICE"),
    absolute(Some("AN"), 5, &[7], "ANONYMOUS LOGON"),
    absolute(None, 5, &[8], "PROXY"),
    absolute(Some("ED"), 5, &[9], "ENTERPRISE DOMAIN CONTROLLERS"),
    absolute(Some("PS"), 5, &[10], "SELF"),
    absolute(Some("AU"), 5, &[11], "Authenticated Users"),
    absolute(Some("RC"), 5, &[12], "RESTRICTED"),
    absolute(None, 5, &[13], "TERMINAL SERVER USER"),
    absolute(None, 5, &[14], "REMOTE INTERACTIVE LOGON"),
    absolute(None, 5, &[15], "This Organization"),
    absolute(None, 5, &[17], "IUSR"),
    absolute(Some("SY"), 5, &[18], "SYSTEM"),
    absolute(Some("LS"), 5, &[19], "LOCAL SERVICE"),
    absolute(Some("NS"), 5, &[20], "NETWORK SERVICE"),
    absolute(Some("WR"), 5, &[33], "WRITE RESTRICTED"),
    absolute(None, 5, &[32], "BUILTIN"),
    absolute(Some("BA"), 5, &[32, 544], "Administrators"),
    absolute(Some("BU"), 5, &[32, 545], "Users"),
    absolute(Some("BG"), 5, &[32, 546], "Guests"),
    absolute(Some("PU"), 5, &[32, 547], "Power Users"),
    absolute(Some("AO"), 5, &[32, 548], "Account Operators"),
    absolute(Some("SO"), 5, &[32, 549], "Server Operators"),
    absolute(Some("PO"), 5, &[32, 550], "Print Operators"),
    absolute(Some("BO"), 5, &[32, 551], "Backup Operators"),
    absolute(Some("RE"), 5, &[32, 552], "Replicator"),
    absolute(Some("RU"), 5, &[32, 554], "Pre-Windows 2000 Compatible Access"),
    absolute(Some("RD"), 5, &[32, 555], "Remote Desktop Users"),
    absolute(Some("NO"), 5, &[32, 556], "Network Configuration Operators"),
    absolute(Some("MU"), 5, &[32, 558], "Performance Monitor Users"),
    absolute(Some("LU"), 5, &[32, 559], "Performance Log Users"),
    absolute(None, 5, &[32, 562], "Distributed COM Users"),
    absolute(Some("IS"), 5, &[32, 568], "IIS_IUSRS"),
    absolute(Some("CY"), 5, &[32, 569], "Cryptographic Operators"),
    absolute(Some("ER"), 5, &[32, 573], "Event Log Readers"),
    absolute(Some("CD"), 5, &[32, 574], "Certificate Service DCOM Access"),
    absolute(Some("RA"), 5, &[32, 575], "RDS Remote Access Servers"),
    absolute(Some("ES"), 5, &[32, 576], "RDS Endpoint Servers"),
    absolute(Some("MS"), 5, &[32, 577], "RDS Management Servers"),
    absolute(Some("HA"), 5, &[32, 578], "Hyper-V Administrators"),
    absolute(Some("AA"), 5, &[32, 579], "Access Control Assistance Operators"),
    absolute(Some("RM"), 5, &[32, 580], "Remote Management Users"),
    absolute(None, 5, &[64, 10], "NTLM Authentication"),
    absolute(None, 5, &[64, 14], "SChannel Authentication"),
    absolute(None, 5, &[64, 21], "Digest Authentication"),
    absolute(None, 5, &[80, 0], "ALL SERVICES"),
    absolute(Some("UD"), 5, &[84, 0, 0, 0, 0, 0], "USER MODE DRIVERS"),
    absolute(None, 5, &[113], "Local account"),
    absolute(None, 5, &[114], "Local account and member of Administrators group"),
    absolute(None, 5, &[1000], "Other Organization"),
    absolute(Some("AC"), 15, &[2, 1], "ALL APPLICATION PACKAGES"),
    absolute(None, 15, &[2, 2], "ALL RESTRICTED APPLICATION PACKAGES"),
    absolute(None, 16, &[0], "Untrusted Mandatory Level"),
    absolute(Some("LW"), 16, &[4096], "Low Mandatory Level"),
    absolute(Some("ME"), 16, &[8192], "Medium Mandatory Level"),
    absolute(Some("MP"), 16, &[8448], "Medium Plus Mandatory Level"),
    absolute(Some("HI"), 16, &[12288], "High Mandatory Level"),
    absolute(Some("SI"), 16, &[16384], "System Mandatory Level"),
    absolute(None, 16, &[20480], "Protected Process Mandatory Level"),
    absolute(Some("AS"), 18, &[1], "Authentication authority asserted identity"),
    absolute(Some("SS"), 18, &[2], "Service asserted identity"),
];

/// RIDs well known in every domain. `EA`, `SA`, `RO` and `EK` really belong to the forest
/// root domain; with a single domain given they are resolved against it.
#[rustfmt::skip]
static DOMAIN_RELATIVE: &[DomainRelative] = &[
    relative(Some("RO"), 498, "Enterprise Read-only Domain Controllers"),
    relative(Some("LA"), 500, "Administrator"),
    relative(Some("LG"), 501, "Guest"),
    relative(None, 502, "krbtgt"),
    relative(None, 503, "DefaultAccount"),
    relative(None, 504, "WDAGUtilityAccount"),
    relative(Some("DA"), 512, "Domain Admins"),
    relative(Some("DU"), 513, "Domain Users"),
    relative(Some("DG"), 514, "Domain Guests"),
    relative(Some("DC"), 515, "Domain Computers"),
    relative(Some("DD"), 516, "Domain Controllers"),
    relative(Some("CA"), 517, "Cert Publishers"),
    relative(Some("SA"), 518, "Schema Admins"),
    relative(Some("EA"), 519, "Enterprise Admins"),
    relative(Some("PA"), 520, "Group Policy Creator Owners"),
    relative(None, 521, "Read-only Domain Controllers"),
    relative(Some("CN"), 522, "Cloneable Domain Controllers"),
    relative(Some("AP"), 525, "Protected Users"),
    relative(Some("KA"), 526, "Key Admins"),
    relative(Some("EK"), 527, "Enterprise Key Admins"),
    relative(Some("RS"), 553, "RAS and IAS Servers"),
    relative(None, 571, "Allowed RODC Password Replication Group"),
    relative(None, 572, "Denied RODC Password Replication Group"),
];

fn absolute_entry(sid: &Sid) -> Option<&'static Absolute> {
    ABSOLUTE.iter().find(|entry| {
        entry.authority == sid.authority() && entry.sub_authorities == sid.sub_authorities()
    })
}

/// `S-1-5-21-X-Y-Z-RID` with a well-known RID.
fn relative_entry(sid: &Sid) -> Option<&'static DomainRelative> {
    let subs = sid.sub_authorities();
    if sid.authority() != 5 || subs.len() != 5 || subs.first() != Some(&21) {
        return None;
    }
    let rid = sid.rid()?;
    DOMAIN_RELATIVE.iter().find(|entry| entry.rid == rid)
}

/// Whether `sid` is one of the machine-independent well-known SIDs.
pub(crate) fn lookup(sid: &Sid) -> Option<&'static str> {
    absolute_entry(sid).map(|entry| entry.name)
}

pub(crate) fn name(sid: &Sid) -> Option<&'static str> {
    lookup(sid).or_else(|| relative_entry(sid).map(|entry| entry.name))
}

pub(crate) fn alias_of(sid: &Sid, domain: Option<&Sid>) -> Option<&'static str> {
    if let Some(entry) = absolute_entry(sid) {
        return entry.alias;
    }
    let domain = domain?;
    if !sid.is_in_domain(domain) {
        return None;
    }
    relative_entry(sid).and_then(|entry| entry.alias)
}

pub(crate) fn sid_of_alias(alias: &str, domain: Option<&Sid>) -> Option<Sid> {
    let matches =
        |candidate: Option<&str>| candidate.is_some_and(|c| c.eq_ignore_ascii_case(alias));
    if let Some(entry) = ABSOLUTE.iter().find(|entry| matches(entry.alias)) {
        // Every table authority is far below 2^32.
        let authority = u32::try_from(entry.authority).ok()?;
        return Some(Sid::from_table(authority, entry.sub_authorities));
    }
    let entry = DOMAIN_RELATIVE.iter().find(|entry| matches(entry.alias))?;
    domain?.with_rid(entry.rid).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn aliases_are_unique_and_round_trip() {
        let domain: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let mut seen = HashSet::new();
        let absolute = ABSOLUTE.iter().filter_map(|e| e.alias);
        let relative = DOMAIN_RELATIVE.iter().filter_map(|e| e.alias);
        for alias in absolute.chain(relative) {
            assert!(seen.insert(alias), "duplicate alias {alias}");
            let sid = sid_of_alias(alias, Some(&domain)).unwrap();
            assert_eq!(alias_of(&sid, Some(&domain)), Some(alias));
        }
    }

    #[test]
    fn domain_aliases_need_a_domain() {
        assert_eq!(sid_of_alias("DA", None), None);
        assert_eq!(sid_of_alias("sy", None).unwrap().to_string(), "S-1-5-18");
        let admins: Sid = "S-1-5-21-1-2-3-512".parse().unwrap();
        assert_eq!(alias_of(&admins, None), None);
        let other: Sid = "S-1-5-21-9-9-9".parse().unwrap();
        assert_eq!(alias_of(&admins, Some(&other)), None);
    }
}
