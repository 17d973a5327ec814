//! Who is on the sample machine: the machine itself (name, machine SID, the AD domain it
//! joined, the Entra tenant), the three users (`CORP\alice`, `AzureAD\bob`, local
//! `carol`) with their SIDs, folders and the times things happened. Everything is drawn
//! from the seed, so the same seed gives the same identities.

use ntsec::Sid;

use crate::error::{Error, Result};
use crate::rng::{Rng, guid_braced};

/// FILETIME ticks per second and per day.
pub const SECOND: u64 = 10_000_000;
/// See [`SECOND`].
pub const DAY: u64 = 86_400 * SECOND;

/// Which Windows the volume imitates (the seed picks one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Os {
    /// Windows 10 22H2 (build 19045): has `3D Objects`.
    Windows10,
    /// Windows 11 23H2 (build 22631).
    Windows11,
}

/// The Active Directory domain the machine is joined to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Domain {
    pub netbios: String,
    pub dns: String,
    pub sid: Sid,
    #[serde(skip)]
    pub guid: [u8; 16],
    /// The domain controller's host name.
    pub dc: String,
}

impl Domain {
    /// `DC=corp,DC=example,DC=com`.
    pub fn dn(&self) -> String {
        self.dns
            .split('.')
            .map(|p| format!("DC={p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The Entra ID tenant (the machine is hybrid-joined, so Entra users can sign in too).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tenant {
    #[serde(skip)]
    pub id: [u8; 16],
    pub name: String,
    pub domain: String,
}

/// The machine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    pub os: Os,
    pub computer_name: String,
    pub machine_sid: Sid,
    pub domain: Domain,
    pub tenant: Tenant,
    /// FILETIME of the installation.
    pub installed: u64,
}

impl Machine {
    /// The build number, `UBR` and display version Windows reports.
    pub fn build(&self) -> (u32, u32, &'static str) {
        match self.os {
            Os::Windows10 => (19045, 5487, "22H2"),
            Os::Windows11 => (22631, 4890, "23H2"),
        }
    }

    /// A SID of the machine's account domain.
    pub fn local(&self, rid: u32) -> Result<Sid> {
        Ok(self.machine_sid.with_rid(rid)?)
    }
}

/// How a user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AccountKind {
    /// `CORP\alice`: an Active Directory account (`S-1-5-21-<domain>-<rid>`).
    Domain,
    /// `AzureAD\bob`: an Entra ID account (`S-1-12-1-…` from its object ID).
    Entra,
    /// `carol`: a local account in the SAM (`S-1-5-21-<machine>-<rid>`).
    Local,
}

/// One user with a profile on the volume.
#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub kind: AccountKind,
    /// The account name (`alice`), also the profile folder's name.
    pub name: String,
    pub display_name: String,
    pub sid: Sid,
    /// The primary group in the user's tokens and hive descriptors (`<U513>`): Domain
    /// Users, the machine's "None", or the user's own SID for Entra accounts.
    pub group: Sid,
    /// The profile folder under `C:\Users`.
    pub folder: String,
    /// User principal name (domain and Entra users).
    pub upn: Option<String>,
    /// AD objectGUID or Entra objectId.
    #[serde(skip)]
    pub object_guid: Option<[u8; 16]>,
    /// FILETIME of the first logon (the profile's creation).
    pub first_logon: u64,
    /// FILETIME of the last logoff.
    pub last_logoff: u64,
}

impl User {
    /// The logon name LogonUI shows: `CORP\alice`, `AzureAD\bob`, `.\carol`.
    pub fn logon_name(&self, machine: &Machine) -> String {
        match self.kind {
            AccountKind::Domain => format!("{}\\{}", machine.domain.netbios, self.name),
            AccountKind::Entra => format!("AzureAD\\{}", self.name),
            AccountKind::Local => format!(".\\{}", self.name),
        }
    }

    /// `C:\Users\<folder>`.
    pub fn profile_path(&self) -> String {
        format!("C:\\Users\\{}", self.folder)
    }

    /// The braced object GUID, if any.
    pub fn guid_string(&self) -> Option<String> {
        self.object_guid.as_ref().map(guid_braced)
    }
}

/// Everyone and everything the generator names.
#[derive(Debug, Clone, serde::Serialize)]
pub struct World {
    pub seed: u64,
    pub machine: Machine,
    pub users: Vec<User>,
}

impl World {
    /// The user of a kind (each kind occurs once).
    pub fn user(&self, kind: AccountKind) -> Option<&User> {
        self.users.iter().find(|u| u.kind == kind)
    }

    /// The domain user `alice`, who also has the `.bak`/TEMP ProfileList pair.
    pub fn alice(&self) -> Result<&User> {
        self.user(AccountKind::Domain)
            .ok_or_else(|| Error::Internal("no domain user".into()))
    }
}

/// The Entra SID of an object ID: `S-1-12-1-a-b-c-d`, the GUID's four little-endian
/// u32s in Windows' byte layout (windows-profile-state.md §2.6).
pub fn entra_sid(object_id: &[u8; 16]) -> Result<Sid> {
    let part = |i: usize| {
        u32::from_le_bytes([
            object_id[i],
            object_id[i + 1],
            object_id[i + 2],
            object_id[i + 3],
        ])
    };
    Ok(Sid::new(12, &[1, part(0), part(4), part(8), part(12)])?)
}

/// Draws the machine and its users. `machine_sid` comes from the SAM builder when there is
/// one; `carol_rid` is the RID the SAM gave the local user.
pub fn plan(seed: u64, machine_sid: Sid, carol_rid: u32) -> Result<World> {
    let root = Rng::new(seed);
    let mut r = root.fork("world");
    let os = if r.below(2) == 0 {
        Os::Windows10
    } else {
        Os::Windows11
    };
    let computer_name = computer_name(seed);
    let domain_sid = Sid::new(5, &[21, r.sid_part(), r.sid_part(), r.sid_part()])?;
    let domain = Domain {
        netbios: "CORP".into(),
        dns: "corp.example.com".into(),
        sid: domain_sid.clone(),
        guid: r.guid(),
        dc: format!("DC{:02}", r.range(1, 4)),
    };
    let tenant = Tenant {
        id: r.guid(),
        name: "Contoso".into(),
        domain: "contoso.onmicrosoft.com".into(),
    };
    let installed = install_time(seed);
    let machine = Machine {
        os,
        computer_name,
        machine_sid: machine_sid.clone(),
        domain,
        tenant,
        installed,
    };

    let mut times = |days_after: u64| {
        let first = installed + days_after * DAY + r.below(6 * 3600) * SECOND;
        let last = first + r.range(60, 300) * DAY + r.below(9 * 3600) * SECOND;
        (first, last)
    };
    let (a_first, a_last) = times(1);
    let (b_first, b_last) = times(20);
    let (c_first, c_last) = times(0);

    let alice_rid = 1100 + root.fork("alice").below(8000) as u32;
    let bob_guid = root.fork("bob").guid();
    let alice = User {
        kind: AccountKind::Domain,
        name: "alice".into(),
        display_name: "Alice Martin".into(),
        sid: domain_sid.with_rid(alice_rid)?,
        group: domain_sid.with_rid(513)?,
        folder: "alice".into(),
        upn: Some(format!("alice@{}", machine.domain.dns)),
        object_guid: Some(root.fork("alice-guid").guid()),
        first_logon: a_first,
        last_logoff: a_last,
    };
    let bob_sid = entra_sid(&bob_guid)?;
    let bob = User {
        kind: AccountKind::Entra,
        name: "bob".into(),
        display_name: "Bob Nguyen".into(),
        group: bob_sid.clone(),
        sid: bob_sid,
        folder: "bob".into(),
        upn: Some(format!("bob@{}", machine.tenant.domain)),
        object_guid: Some(bob_guid),
        first_logon: b_first,
        last_logoff: b_last,
    };
    let carol = User {
        kind: AccountKind::Local,
        name: "carol".into(),
        display_name: "Carol Diaz".into(),
        sid: machine_sid.with_rid(carol_rid)?,
        group: machine_sid.with_rid(513)?,
        folder: "carol".into(),
        upn: None,
        object_guid: None,
        first_logon: c_first,
        last_logoff: c_last,
    };
    Ok(World {
        seed,
        machine,
        users: vec![alice, bob, carol],
    })
}

/// The computer name for `seed` (`DESKTOP-` and seven letters or digits, as OOBE names it).
pub fn computer_name(seed: u64) -> String {
    format!("DESKTOP-{}", Rng::new(seed).fork("computer-name").alnum(7))
}

/// The installation time for `seed`: some day in 2023 or 2024.
pub fn install_time(seed: u64) -> u64 {
    let mut r = Rng::new(seed).fork("install-time");
    hive::filetime::filetime_from_utc(2023, 1, 2, 9, 0)
        + r.below(600) * DAY
        + r.below(8 * 3600) * SECOND
}

/// A machine SID drawn from the seed, for when no SAM builder supplies one.
pub fn machine_sid_from_seed(seed: u64) -> Result<Sid> {
    let mut r = Rng::new(seed).fork("machine-sid");
    Ok(Sid::new(
        5,
        &[21, r.sid_part(), r.sid_part(), r.sid_part()],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_sid_matches_the_published_example() {
        let guid: ntsec::Guid = "f82d79af-1278-4894-ac01-d90e30875cf8".parse().unwrap();
        assert_eq!(
            entra_sid(&guid.0).unwrap().to_string(),
            "S-1-12-1-4163729839-1217663608-249102764-4166813488"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_world() {
        let sid = machine_sid_from_seed(3).unwrap();
        let a = plan(3, sid.clone(), 1001).unwrap();
        let b = plan(3, sid, 1001).unwrap();
        assert_eq!(a.users[0].sid, b.users[0].sid);
        assert_eq!(a.machine.computer_name, b.machine.computer_name);
        assert!(a.users[1].sid.to_string().starts_with("S-1-12-1-"));
    }
}
