//! Building the SAM's records byte for byte as Windows lays them out (compared with the
//! records of a real Windows 10 SAM in the tests).

use ntsec::Sid;

use crate::records::{Item, Variable, c, domain_f, f, put_u16, put_u32, put_u64, v};

/// "Never" for account expiry, as Windows writes it for built-in accounts.
pub const NEVER: u64 = 0x7FFF_FFFF_FFFF_FFFF;
/// The largest negative interval: "no limit" for password ages and forced logoff.
const NO_LIMIT: u64 = 0x8000_0000_0000_0000;
/// 30 minutes as a negative interval (lockout duration and observation window).
const THIRTY_MINUTES: u64 = (-18_000_000_000i64) as u64;
/// Bytes of a logon-hours bitmap (one bit per hour of the week) and its unit count.
const HOURS_LEN: usize = 21;
const UNITS_PER_WEEK: u32 = 168;
/// Capacity of the member array of a group record (25 RIDs), as Windows allocates it.
const GROUP_MEMBER_BYTES: usize = 100;

/// The third word of a record's security-descriptor descriptor: `0x10000 | revision`.
pub fn sd_extra(revision: u16) -> u32 {
    0x1_0000 | u32::from(revision)
}

/// A user's `F`: everything zero except what is given.
#[derive(Debug, Clone, Copy)]
pub struct UserF {
    pub revision: u16,
    pub rid: u32,
    pub flags: u32,
    pub account_expires: u64,
    pub password_last_set: u64,
}

impl UserF {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; f::LEN];
        put_u16(&mut out, 0, self.revision);
        put_u16(&mut out, 2, 1);
        put_u64(&mut out, f::PASSWORD_LAST_SET, self.password_last_set);
        put_u64(&mut out, f::ACCOUNT_EXPIRES, self.account_expires);
        put_u32(&mut out, f::RID, self.rid);
        put_u32(&mut out, f::PRIMARY_GROUP, 0x201);
        put_u32(&mut out, f::FLAGS, self.flags);
        out
    }
}

/// The parts of a user's `V`; the hash entries are already encrypted.
#[derive(Debug, Clone)]
pub struct UserV<'a> {
    pub revision: u16,
    pub security: Vec<u8>,
    pub name: &'a str,
    pub full_name: &'a str,
    pub comment: &'a str,
    /// Store an "all hours allowed" bitmap (accounts created through `NetUserAdd` have one).
    pub logon_hours: bool,
    pub lm: Vec<u8>,
    pub nt: Vec<u8>,
    pub lm_history: Vec<u8>,
    pub nt_history: Vec<u8>,
}

impl UserV<'_> {
    pub fn to_record(&self) -> Variable {
        let mut items = vec![Item::empty(); v::COUNT];
        items[v::SECURITY] = Item::new(self.security.clone(), sd_extra(self.revision));
        items[v::NAME] = Item::text(self.name);
        items[v::FULL_NAME] = Item::text(self.full_name);
        items[v::COMMENT] = Item::text(self.comment);
        if self.logon_hours {
            items[v::LOGON_HOURS] = Item::new(vec![0xFF; HOURS_LEN], UNITS_PER_WEEK);
        }
        // Primary group membership: RID 513 with SE_GROUP_MANDATORY|ENABLED_BY_DEFAULT|ENABLED.
        let mut groups = 0x201u32.to_le_bytes().to_vec();
        groups.extend_from_slice(&7u32.to_le_bytes());
        items[v::GROUPS] = Item::new(groups, 1);
        items[v::LM_HASH] = Item::new(self.lm.clone(), 0);
        items[v::NT_HASH] = Item::new(self.nt.clone(), 0);
        items[v::LM_HISTORY] = Item::new(self.lm_history.clone(), 0);
        items[v::NT_HISTORY] = Item::new(self.nt_history.clone(), 0);
        Variable {
            prefix: Vec::new(),
            items,
        }
    }
}

/// An alias's `C`: RID, descriptor, name, comment and member SIDs.
pub fn alias_c(
    revision: u16,
    rid: u32,
    security: Vec<u8>,
    name: &str,
    comment: &str,
    members: &[Sid],
) -> Vec<u8> {
    let mut items = vec![Item::empty(); c::COUNT];
    items[c::SECURITY] = Item::new(security, sd_extra(revision));
    items[c::NAME] = Item::text(name);
    items[c::COMMENT] = Item::text(comment);
    items[c::MEMBERS] = Item::new(
        members.iter().flat_map(Sid::to_bytes).collect(),
        members.len() as u32,
    );
    Variable {
        prefix: rid.to_le_bytes().to_vec(),
        items,
    }
    .to_bytes()
}

/// A group's `C` (only group 513 "None" exists on workstations): member RIDs in a
/// zero-padded array of at least 25 slots.
pub fn group_c(
    revision: u16,
    rid: u32,
    security: Vec<u8>,
    name: &str,
    comment: &str,
    members: &[u32],
) -> Vec<u8> {
    let mut prefix = vec![0u8; 0x14];
    put_u16(&mut prefix, 0, revision);
    put_u16(&mut prefix, 2, 1);
    put_u32(&mut prefix, 4, rid);
    put_u32(&mut prefix, 8, 7);
    let mut array: Vec<u8> = members.iter().flat_map(|r| r.to_le_bytes()).collect();
    array.resize(array.len().max(GROUP_MEMBER_BYTES), 0);
    let mut items = vec![Item::empty(); c::COUNT];
    items[c::SECURITY] = Item::new(security, sd_extra(revision));
    items[c::NAME] = Item::text(name);
    items[c::COMMENT] = Item::text(comment);
    items[c::MEMBERS] = Item::new(array, members.len() as u32);
    Variable { prefix, items }.to_bytes()
}

/// Prefix length of a group `C` record.
pub const GROUP_PREFIX: usize = 0x14;

/// A domain's `V`: descriptor and domain SID.
pub fn domain_v(revision: u16, security: Vec<u8>, sid: &Sid) -> Vec<u8> {
    let mut items = vec![Item::empty(); c::COUNT];
    items[c::SECURITY] = Item::new(security, sd_extra(revision));
    items[c::DOMAIN_SID] = Item::new(sid.to_bytes(), 0);
    Variable {
        prefix: Vec::new(),
        items,
    }
    .to_bytes()
}

/// `SAM\C`: the server object's descriptor.
pub fn server_c(revision: u16, security: Vec<u8>) -> Vec<u8> {
    let mut prefix = vec![0u8; 4];
    put_u16(&mut prefix, 0, revision + 5);
    put_u16(&mut prefix, 2, 1);
    Variable {
        prefix,
        items: vec![Item::new(security, sd_extra(revision))],
    }
    .to_bytes()
}

/// A domain's `F`. `keys` are the two wrapped SAM keys (empty for the Builtin domain)
/// and `pek_id` the key id that hash entries carry.
#[derive(Debug, Clone)]
pub struct DomainF {
    pub revision: u16,
    pub created: u64,
    pub modified_count: u64,
    pub next_rid: u32,
    pub max_password_age: u64,
    pub keys: Option<([Vec<u8>; 2], u32)>,
    /// Total length: 368 for Windows 10 (AES keys), 240 for the RC4 layout.
    pub len: usize,
}

impl DomainF {
    /// Values of the account domain of a fresh Windows 10 install.
    pub fn account(
        revision: u16,
        created: u64,
        keys: [Vec<u8>; 2],
        pek_id: u32,
        len: usize,
    ) -> DomainF {
        DomainF {
            revision,
            created,
            modified_count: 1,
            next_rid: 1000,
            max_password_age: NO_LIMIT,
            keys: Some((keys, pek_id)),
            len,
        }
    }

    /// Values of the Builtin domain of a fresh Windows 10 install.
    pub fn builtin(revision: u16, created: u64, len: usize) -> DomainF {
        DomainF {
            revision,
            created,
            modified_count: 1,
            next_rid: 1000,
            max_password_age: (-37_108_517_437_440i64) as u64,
            keys: None,
            len,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len];
        put_u16(&mut out, 0, self.revision);
        put_u16(&mut out, 2, 1);
        put_u64(&mut out, 0x08, self.created);
        put_u64(&mut out, domain_f::MODIFIED_COUNT, self.modified_count);
        put_u64(&mut out, 0x18, self.max_password_age);
        put_u64(&mut out, 0x28, NO_LIMIT);
        put_u64(&mut out, 0x30, THIRTY_MINUTES);
        put_u64(&mut out, 0x38, THIRTY_MINUTES);
        put_u32(&mut out, domain_f::NEXT_RID, self.next_rid);
        put_u32(&mut out, 0x58, 1); // server state: enabled
        put_u32(&mut out, 0x5C, 3); // server role: primary
        put_u64(&mut out, 0x60, 0x0001_0000_0000_0001);
        if let Some(([key0, key1], pek_id)) = &self.keys {
            // Each key is followed by 8 reserved bytes (AES keys by 16, as Windows 10 has).
            let gap = if key0.len() == crate::crypto::RC4_KEY0_LEN {
                0
            } else {
                16
            };
            let mut at = domain_f::KEY0;
            for key in [key0, key1] {
                if let Some(dst) = out.get_mut(at..at + key.len()) {
                    dst.copy_from_slice(key);
                }
                at += key.len() + gap;
            }
            put_u32(&mut out, at, *pek_id);
        }
        out
    }
}
