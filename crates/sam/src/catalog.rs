//! What a Windows 10/11 SAM contains out of the box: the built-in accounts and aliases
//! with their English names and comments, and the security descriptors Windows stores
//! inside the records. Every value here was read from a real Windows 10 SAM (the
//! turbinia fixture, windows-profile-state.md §7); tests compare against it.

use ntsec::{SecurityDescriptor, Sid};

use crate::error::{Error, Result};

/// The capability SID Windows 8+ grants read access to SAM objects (an app-container
/// capability; present in every record descriptor of a Windows 10 SAM).
pub const SAM_CAPABILITY_SID: &str = "S-1-15-3-1024-1730716382-2949791265-2036182297-688374192-553408039-4133924312-4201181712-267922143";

/// [`SAM_CAPABILITY_SID`] parsed.
pub fn capability_sid() -> Sid {
    SAM_CAPABILITY_SID
        .parse()
        .unwrap_or_else(|_| Sid::everyone())
}

/// Security of the hive root key.
pub const ROOT_KEY_SDDL: &str =
    "O:BAG:SYD:PAI(A;CI;KR;;;BU)(A;CI;KA;;;BA)(A;CI;KA;;;SY)(A;CI;KA;;;CO)(A;CI;KR;;;AC)S:AI";
/// Security of every key from `SAM` down (one shared sk cell).
pub const SAM_KEYS_SDDL: &str = "{control=0x8804}O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;RCWD;;;BA)";

const OWNER: &str = "O:BAG:BA";
const SACL_USER: &str = "S:(AU;SAFA;0x1050044;;;WD)(AU;SAFA;0x1fffff;;;AN)";
const SACL_OOBE_USER: &str = "S:(AU;SAFA;0x1050044;;;WD)(AU;SAFA;0xf07ff;;;AN)";
const SACL_GROUP: &str = "S:(AU;SAFA;0x1050013;;;WD)(AU;SAFA;0x1fffff;;;AN)";

/// Which record descriptor to build; `capability` adds the Windows 8+ capability ACE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSd {
    /// `SAM\C`: the server object.
    Server,
    /// `Domains\Account\V`.
    AccountDomain,
    /// `Domains\Builtin\V`.
    BuiltinDomain,
    /// `Groups\00000201\C` (group "None").
    Group,
    /// An alias whose members Account Operators and Power Users may change.
    AliasUserLike,
    /// An alias Account Operators may change.
    AliasOperated,
    /// An alias only administrators may change (Administrators, Backup Operators).
    AliasProtected,
    /// A user created by `NetUserAdd` / `New-LocalUser` (and DefaultAccount).
    User,
    /// The first user, created by setup (OOBE): its own ACE first, no Account Operators.
    OobeUser,
    /// The built-in Administrator.
    Administrator,
    /// The built-in Guest: no ACE for the account itself.
    Guest,
}

/// The descriptor Windows stores in a SAM record, for `subject` (the user's own SID,
/// where the descriptor names it).
pub fn record_sd(kind: RecordSd, subject: Option<&Sid>, capability: bool) -> Result<Vec<u8>> {
    let cap = |mask: &str| {
        if capability {
            format!("(A;;{mask};;;{SAM_CAPABILITY_SID})")
        } else {
            String::new()
        }
    };
    let me = subject
        .map(|s| format!("(A;;0x20044;;;{s})"))
        .unwrap_or_default();
    let sddl = match kind {
        RecordSd::Server => format!(
            "{OWNER}D:(A;;0x20031;;;WD)(A;;0xf003f;;;BA){}S:(AU;SAFA;0x105000e;;;WD)(AU;SAFA;0x1fffff;;;AN)",
            cap("0x20031")
        ),
        RecordSd::AccountDomain if capability => format!(
            "{OWNER}D:(A;;0x20385;;;WD)(A;;0x20385;;;BU)(A;;0xf07df;;;BA)(A;;0x20385;;;PU)(A;;0x203d5;;;AO){}(D;;0x50;;;PU)\
             S:(AU;SAFA;0x105047a;;;WD)(AU;SAFA;0xf07ff;;;AN)",
            cap("0x20385")
        ),
        RecordSd::AccountDomain => format!(
            "{OWNER}D:(A;;0x20385;;;WD)(A;;0x20385;;;BU)(A;;0xf07df;;;BA)(A;;0x203d5;;;AO)\
             S:(AU;SAFA;0x105047a;;;WD)(AU;SAFA;0xf07ff;;;AN)"
        ),
        RecordSd::BuiltinDomain => format!(
            "{OWNER}D:(A;;0x20385;;;WD)(A;;0x207c5;;;BA){}S:(AU;SAFA;0x105047a;;;WD)(AU;SAFA;0x1fffff;;;AN)",
            cap("0x20385")
        ),
        RecordSd::Group => format!(
            "{OWNER}D:(A;;0x20011;;;WD)(A;;0xf001f;;;BA)(A;;0xf001f;;;AO)S:(AU;SAFA;0x105000e;;;WD)(AU;SAFA;0x1fffff;;;AN)"
        ),
        RecordSd::AliasUserLike => format!(
            "{OWNER}D:(A;;0x2000c;;;WD)(A;;0xf001f;;;BA)(A;;0xf001f;;;AO)(A;;0xf001f;;;PU){}{SACL_GROUP}",
            cap("0x2000c")
        ),
        RecordSd::AliasOperated => {
            format!(
                "{OWNER}D:(A;;0x2000c;;;WD)(A;;0xf001f;;;BA)(A;;0xf001f;;;AO){}{SACL_GROUP}",
                cap("0x2000c")
            )
        }
        RecordSd::AliasProtected => {
            format!(
                "{OWNER}D:(A;;0x2000c;;;WD)(A;;0xf001f;;;BA){}{SACL_GROUP}",
                cap("0x2000c")
            )
        }
        RecordSd::User => format!(
            "{OWNER}D:(A;;0x2035b;;;WD)(A;;0xf07ff;;;BA)(A;;0xf07ff;;;AO){}{me}{SACL_USER}",
            cap("0x2031b")
        ),
        RecordSd::OobeUser => {
            format!(
                "{OWNER}D:{me}{}(A;;0xf07ff;;;BA)(A;;0x2035b;;;WD){SACL_OOBE_USER}",
                cap("0x2031b")
            )
        }
        RecordSd::Administrator => {
            format!(
                "{OWNER}D:(A;;0x2035b;;;WD)(A;;0xf07ff;;;BA){}{me}{SACL_USER}",
                cap("0x2031b")
            )
        }
        RecordSd::Guest => format!(
            "{OWNER}D:(A;;0x2031b;;;WD)(A;;0xf07ff;;;BA)(A;;0xf07ff;;;AO){}{SACL_USER}",
            cap("0x2031b")
        ),
    };
    sddl_bytes(&sddl)
}

/// SDDL to the self-relative bytes Windows would store.
pub fn sddl_bytes(sddl: &str) -> Result<Vec<u8>> {
    let invalid = |e: ntsec::Error| Error::Refused {
        file: String::from("(built-in template)"),
        reason: format!("descriptor {sddl:?}: {e}"),
    };
    SecurityDescriptor::from_sddl(sddl)
        .and_then(|sd| sd.to_bytes())
        .map_err(invalid)
}

/// A built-in user account.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinUser {
    pub rid: u32,
    pub name: &'static str,
    pub comment: &'static str,
    pub flags: u32,
    pub sd: RecordSd,
    /// Aliases it belongs to.
    pub aliases: &'static [u32],
    /// Has `ForcePasswordReset` (Administrator and created users do).
    pub force_password_reset: bool,
    /// Has logon hours (all allowed) in its `V`.
    pub logon_hours: bool,
}

/// Administrator, Guest, DefaultAccount and WDAGUtilityAccount as Windows 10 creates them.
pub const BUILTIN_USERS: [BuiltinUser; 4] = [
    BuiltinUser {
        rid: 500,
        name: "Administrator",
        comment: "Built-in account for administering the computer/domain",
        flags: 0x0011,
        sd: RecordSd::Administrator,
        aliases: &[0x220],
        force_password_reset: true,
        logon_hours: true,
    },
    BuiltinUser {
        rid: 501,
        name: "Guest",
        comment: "Built-in account for guest access to the computer/domain",
        flags: 0x0215,
        sd: RecordSd::Guest,
        aliases: &[0x222],
        force_password_reset: false,
        logon_hours: false,
    },
    BuiltinUser {
        rid: 503,
        name: "DefaultAccount",
        comment: "A user account managed by the system.",
        flags: 0x0215,
        sd: RecordSd::User,
        aliases: &[0x245],
        force_password_reset: false,
        logon_hours: false,
    },
    BuiltinUser {
        rid: 504,
        name: "WDAGUtilityAccount",
        comment: "A user account managed and used by the system for Windows Defender Application Guard scenarios.",
        flags: 0x0011,
        sd: RecordSd::User,
        aliases: &[],
        force_password_reset: true,
        logon_hours: true,
    },
];

/// A built-in alias.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinAlias {
    pub rid: u32,
    pub name: &'static str,
    pub comment: &'static str,
    pub sd: RecordSd,
}

const fn alias(rid: u32, name: &'static str, comment: &'static str, sd: RecordSd) -> BuiltinAlias {
    BuiltinAlias {
        rid,
        name,
        comment,
        sd,
    }
}

/// The 24 aliases of the BUILTIN domain of Windows 10, with the English comments.
pub const BUILTIN_ALIASES: [BuiltinAlias; 24] = {
    use RecordSd::{AliasOperated as O, AliasProtected as P, AliasUserLike as U};
    [
        alias(
            0x220,
            "Administrators",
            "Administrators have complete and unrestricted access to the computer/domain",
            P,
        ),
        alias(
            0x221,
            "Users",
            "Users are prevented from making accidental or intentional system-wide changes and can run most applications",
            U,
        ),
        alias(
            0x222,
            "Guests",
            "Guests have the same access as members of the Users group by default, except for the Guest account which is further restricted",
            U,
        ),
        alias(
            0x223,
            "Power Users",
            "Power Users are included for backwards compatibility and possess limited administrative powers",
            U,
        ),
        alias(
            0x226,
            "Print Operators",
            "Members can administer printers installed on domain controllers",
            O,
        ),
        alias(
            0x227,
            "Backup Operators",
            "Backup Operators can override security restrictions for the sole purpose of backing up or restoring files",
            P,
        ),
        alias(
            0x228,
            "Replicator",
            "Supports file replication in a domain",
            O,
        ),
        alias(
            0x22B,
            "Remote Desktop Users",
            "Members in this group are granted the right to logon remotely",
            O,
        ),
        alias(
            0x22C,
            "Network Configuration Operators",
            "Members in this group can have some administrative privileges to manage configuration of networking features",
            O,
        ),
        alias(
            0x22E,
            "Performance Monitor Users",
            "Members of this group can access performance counter data locally and remotely",
            O,
        ),
        alias(
            0x22F,
            "Performance Log Users",
            "Members of this group may schedule logging of performance counters, enable trace providers, and collect event traces both locally and via remote access to this computer",
            O,
        ),
        alias(
            0x232,
            "Distributed COM Users",
            "Members are allowed to launch, activate and use Distributed COM objects on this machine.",
            O,
        ),
        alias(
            0x238,
            "IIS_IUSRS",
            "Built-in group used by Internet Information Services.",
            O,
        ),
        alias(
            0x239,
            "Cryptographic Operators",
            "Members are authorized to perform cryptographic operations.",
            O,
        ),
        alias(
            0x23D,
            "Event Log Readers",
            "Members of this group can read event logs from local machine",
            O,
        ),
        alias(
            0x23E,
            "Certificate Service DCOM Access",
            "Members of this group are allowed to connect to Certification Authorities in the enterprise",
            O,
        ),
        alias(
            0x23F,
            "RDS Remote Access Servers",
            "Servers in this group enable users of RemoteApp programs and personal virtual desktops access to these resources. In Internet-facing deployments, these servers are typically deployed in an edge network. This group needs to be populated on servers running RD Connection Broker. RD Gateway servers and RD Web Access servers used in the deployment need to be in this group.",
            O,
        ),
        alias(
            0x240,
            "RDS Endpoint Servers",
            "Servers in this group run virtual machines and host sessions where users RemoteApp programs and personal virtual desktops run. This group needs to be populated on servers running RD Connection Broker. RD Session Host servers and RD Virtualization Host servers used in the deployment need to be in this group.",
            O,
        ),
        alias(
            0x241,
            "RDS Management Servers",
            "Servers in this group can perform routine administrative actions on servers running Remote Desktop Services. This group needs to be populated on all servers in a Remote Desktop Services deployment. The servers running the RDS Central Management service must be included in this group.",
            O,
        ),
        alias(
            0x242,
            "Hyper-V Administrators",
            "Members of this group have complete and unrestricted access to all features of Hyper-V.",
            O,
        ),
        alias(
            0x243,
            "Access Control Assistance Operators",
            "Members of this group can remotely query authorization attributes and permissions for resources on this computer.",
            O,
        ),
        alias(
            0x244,
            "Remote Management Users",
            "Members of this group can access WMI resources over management protocols (such as WS-Management via the Windows Remote Management service). This applies only to WMI namespaces that grant access to the user.",
            O,
        ),
        alias(
            0x245,
            "System Managed Accounts Group",
            "Members of this group are managed by the system.",
            O,
        ),
        alias(
            0x246,
            "Storage Replica Administrators",
            "Members of this group have complete and unrestricted access to all features of Storage Replica.",
            O,
        ),
    ]
};

/// Well-known members of built-in aliases on a fresh install (SID, alias RID), besides
/// the built-in users: INTERACTIVE and Authenticated Users in Users, IUSR in IIS_IUSRS.
pub const WELL_KNOWN_MEMBERS: [(&str, u32); 3] =
    [("S-1-5-4", 0x221), ("S-1-5-11", 0x221), ("S-1-5-17", 0x238)];

/// The group every local user has as primary group: `None` (513), "Ordinary users".
pub const GROUP_NONE: (u32, &str, &str) = (0x201, "None", "Ordinary users");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let user: Sid = "S-1-5-21-1-2-3-1001".parse().unwrap();
        use RecordSd::*;
        for kind in [
            Server,
            AccountDomain,
            BuiltinDomain,
            Group,
            AliasUserLike,
            AliasOperated,
            AliasProtected,
            User,
            OobeUser,
            Administrator,
            Guest,
        ] {
            for cap in [false, true] {
                let bytes = record_sd(kind, Some(&user), cap).unwrap();
                let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
                assert_eq!(sd.control.0, 0x8014, "{kind:?}");
            }
        }
        assert!(sddl_bytes(SAM_KEYS_SDDL).is_ok() && sddl_bytes(ROOT_KEY_SDDL).is_ok());
    }
}
