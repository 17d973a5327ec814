//! Reading the SAM: machine SID, NextRid, key scheme, users, aliases and (with the
//! SYSTEM hive's boot key) password hashes.

use std::path::Path;

use hive::Hive;
use ntsec::Sid;

use crate::crypto::{self, CryptoError, HashKind, KeyScheme};
use crate::error::{Error, Result};
use crate::records::{self, Variable, c, domain_f, f, v};
use crate::rng::Random;
use crate::system::SystemInfo;

/// Key paths below the hive root.
pub mod paths {
    pub const ACCOUNT: &str = r"SAM\Domains\Account";
    pub const USERS: &str = r"SAM\Domains\Account\Users";
    pub const USER_NAMES: &str = r"SAM\Domains\Account\Users\Names";
    pub const GROUPS: &str = r"SAM\Domains\Account\Groups";
    pub const ACCOUNT_ALIASES: &str = r"SAM\Domains\Account\Aliases";
    pub const BUILTIN: &str = r"SAM\Domains\Builtin";
    pub const BUILTIN_ALIASES: &str = r"SAM\Domains\Builtin\Aliases";
}

/// Bits of a user's account control word (`F`+0x38; MS-SAMR 2.2.1.12, `USER_*`).
pub mod flags {
    pub const DISABLED: u32 = 0x0001;
    pub const HOME_DIRECTORY_REQUIRED: u32 = 0x0002;
    pub const PASSWORD_NOT_REQUIRED: u32 = 0x0004;
    pub const NORMAL_ACCOUNT: u32 = 0x0010;
    pub const DONT_EXPIRE_PASSWORD: u32 = 0x0200;
    pub const LOCKED_OUT: u32 = 0x0400;
    pub const PASSWORD_EXPIRED: u32 = 0x20000;

    /// Names of the set bits, for listings.
    pub fn names(word: u32) -> Vec<&'static str> {
        [
            (DISABLED, "disabled"),
            (HOME_DIRECTORY_REQUIRED, "home-directory-required"),
            (PASSWORD_NOT_REQUIRED, "password-not-required"),
            (NORMAL_ACCOUNT, "normal"),
            (DONT_EXPIRE_PASSWORD, "password-never-expires"),
            (LOCKED_OUT, "locked-out"),
            (PASSWORD_EXPIRED, "password-expired"),
        ]
        .into_iter()
        .filter(|(bit, _)| word & bit != 0)
        .map(|(_, name)| name)
        .collect()
    }
}

/// Well-known alias RIDs (BUILTIN domain, S-1-5-32-…).
pub mod alias {
    pub const ADMINISTRATORS: u32 = 0x220;
    pub const USERS: u32 = 0x221;
    pub const GUESTS: u32 = 0x222;
    pub const REMOTE_DESKTOP_USERS: u32 = 0x22B;
    pub const SYSTEM_MANAGED_ACCOUNTS: u32 = 0x245;
}

/// One local user account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub rid: u32,
    pub sid: Sid,
    pub name: String,
    pub full_name: String,
    pub comment: String,
    /// The account control word; see [`flags`].
    pub flags: u32,
    /// FILETIMEs; `None` when never (0, or "never expires" for `account_expires`).
    pub last_logon: Option<u64>,
    pub password_last_set: Option<u64>,
    pub account_expires: Option<u64>,
    pub logon_count: u16,
    pub bad_password_count: u16,
    /// Whether an NT hash is stored (an empty entry means no password).
    pub has_password: bool,
}

impl User {
    pub fn disabled(&self) -> bool {
        self.flags & flags::DISABLED != 0
    }
    pub fn password_never_expires(&self) -> bool {
        self.flags & flags::DONT_EXPIRE_PASSWORD != 0
    }
}

/// Which domain of the SAM an alias (local group) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AliasDomain {
    /// Built-in aliases, `S-1-5-32-<RID>` (Administrators, Users, …).
    Builtin,
    /// Aliases created on this machine, `<machine SID>-<RID>`.
    Account,
}

/// One alias (what Windows shows as a local group) and its members.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alias {
    pub rid: u32,
    pub domain: AliasDomain,
    pub sid: Sid,
    pub name: String,
    pub comment: String,
    pub members: Vec<Sid>,
}

/// A SAM hive, optionally with the SYSTEM facts needed for its secrets.
#[derive(Clone)]
pub struct Sam {
    pub(crate) hive: Hive,
    pub(crate) file: String,
    pub(crate) system: Option<SystemInfo>,
    /// Source of salts for new hash entries.
    pub(crate) random: Random,
    /// A fixed clock for reproducible samples (FILETIME); `None` = the real time.
    pub(crate) fixed_time: Option<u64>,
}

impl std::fmt::Debug for Sam {
    // Neither the hive's bytes nor key material belong in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sam")
            .field("file", &self.file)
            .field("system", &self.system)
            .field("fixed_time", &self.fixed_time)
            .finish_non_exhaustive()
    }
}

impl Sam {
    /// Opens a SAM file alone: accounts can be listed, hashes cannot be read or written.
    pub fn open(path: impl AsRef<Path>) -> Result<Sam> {
        let file = path.as_ref().display().to_string();
        let hive = Hive::open(path.as_ref()).map_err(Error::hive(&file))?;
        Sam::from_hive(hive, &file, None)
    }

    /// Opens a SAM file with its SYSTEM hive and checks that the boot key decrypts it.
    pub fn open_with_system(sam: impl AsRef<Path>, system: impl AsRef<Path>) -> Result<Sam> {
        let info = SystemInfo::open(system)?;
        let file = sam.as_ref().display().to_string();
        let hive = Hive::open(sam.as_ref()).map_err(Error::hive(&file))?;
        Sam::from_hive(hive, &file, Some(info))
    }

    /// A SAM from an open hive; `file` labels messages. With `system`, the boot key must
    /// decrypt the SAM key, else [`Error::WrongSystem`].
    pub fn from_hive(hive: Hive, file: &str, system: Option<SystemInfo>) -> Result<Sam> {
        let sam = Sam {
            hive,
            file: file.to_string(),
            system,
            random: Random::Os,
            fixed_time: None,
        };
        sam.require(paths::ACCOUNT, "not a SAM hive, or a damaged one")?;
        sam.machine_sid()?;
        if sam.system.is_some() {
            sam.sam_key()?;
        }
        Ok(sam)
    }

    /// The underlying hive (for checks and raw reads).
    pub fn hive(&self) -> &Hive {
        &self.hive
    }

    /// The label used in messages (the file path).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The SYSTEM facts, when opened with one.
    pub fn system(&self) -> Option<&SystemInfo> {
        self.system.as_ref()
    }

    pub(crate) fn require(&self, path: &str, hint: &'static str) -> Result<hive::Key<'_>> {
        self.hive
            .key(path)
            .map_err(Error::hive(&self.file))?
            .ok_or_else(|| Error::MissingKey {
                file: self.file.clone(),
                key: path.to_string(),
                hint,
            })
    }

    /// The data of a value that must exist.
    pub(crate) fn value(&self, key: &str, name: &str) -> Result<Vec<u8>> {
        let k = self.require(key, "every SAM hive has it")?;
        let val = k
            .value(name)
            .map_err(Error::hive(&self.file))?
            .ok_or_else(|| {
                Error::record(&self.file, format!(r"{key}\{name}"), "the value is missing")
            })?;
        Ok(val.data().map_err(Error::hive(&self.file))?.into_owned())
    }

    /// `Domains\Account\F`, checked to hold the fields we use.
    pub(crate) fn domain_f(&self) -> Result<Vec<u8>> {
        let data = self.value(paths::ACCOUNT, "F")?;
        if data.len() < domain_f::KEY0 + 4 {
            return Err(Error::record(
                &self.file,
                r"SAM\Domains\Account\F",
                format!("{} bytes is too short", data.len()),
            ));
        }
        Ok(data)
    }

    /// The machine SID `S-1-5-21-a-b-c` (the domain SID in `Domains\Account\V`).
    pub fn machine_sid(&self) -> Result<Sid> {
        let data = self.value(paths::ACCOUNT, "V")?;
        let record = r"SAM\Domains\Account\V";
        let from_item = Variable::parse(&data, 0, c::COUNT)
            .ok()
            .and_then(|rec| Sid::from_bytes(rec.item(c::DOMAIN_SID)).ok())
            .map(|(sid, _)| sid);
        // Readers such as impacket take the last 12 bytes; do the same if the item is odd.
        let sid = match from_item {
            Some(sid) => sid,
            None => {
                let tail = data
                    .len()
                    .checked_sub(12)
                    .and_then(|at| data.get(at..))
                    .ok_or_else(|| {
                        Error::record(&self.file, record, "too short to hold a machine SID")
                    })?;
                let subs: Vec<u32> = tail
                    .chunks_exact(4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                    .collect();
                Sid::new(5, &[21, subs[0], subs[1], subs[2]])
                    .map_err(|e| Error::record(&self.file, record, e.to_string()))?
            }
        };
        if sid.sub_authorities().len() != 4
            || sid.sub_authorities()[0] != 21
            || sid.authority() != 5
        {
            return Err(Error::record(
                &self.file,
                record,
                format!("{sid} is not a machine SID (S-1-5-21-a-b-c)"),
            ));
        }
        Ok(sid)
    }

    /// The RID the next new account gets (`Domains\Account\F`+0x48).
    pub fn next_rid(&self) -> Result<u32> {
        Ok(records::u32_at(&self.domain_f()?, domain_f::NEXT_RID).unwrap_or(0))
    }

    /// How the SAM's secrets are encrypted (the revision of `Key0`).
    pub fn scheme(&self) -> Result<KeyScheme> {
        match self.domain_f()?.get(domain_f::KEY0) {
            Some(1) => Ok(KeyScheme::Rc4),
            Some(2) => Ok(KeyScheme::Aes),
            other => Err(Error::record(
                &self.file,
                r"SAM\Domains\Account\F",
                format!(
                    "unknown key revision {other:?} at offset {:#x}",
                    domain_f::KEY0
                ),
            )),
        }
    }

    /// The RIDs of all users, from the names of the `Users\<RID>` keys.
    pub fn user_rids(&self) -> Result<Vec<u32>> {
        let users = self.require(paths::USERS, "every SAM hive has it")?;
        let mut rids = Vec::new();
        for k in users.subkeys().map_err(Error::hive(&self.file))? {
            let name = k.name();
            if name.len() == 8
                && let Ok(rid) = u32::from_str_radix(&name, 16)
            {
                rids.push(rid);
            }
        }
        Ok(rids)
    }

    /// Every local user, in RID order.
    pub fn users(&self) -> Result<Vec<User>> {
        self.user_rids()?
            .into_iter()
            .map(|rid| self.user(rid))
            .collect()
    }

    /// The user with this RID.
    pub fn user(&self, rid: u32) -> Result<User> {
        let key = user_key(rid);
        if self
            .hive
            .key(&key)
            .map_err(Error::hive(&self.file))?
            .is_none()
        {
            return Err(Error::NoSuchUser {
                file: self.file.clone(),
                who: format!("with RID {rid}"),
            });
        }
        let fdata = self.value(&key, "F")?;
        if fdata.len() < f::LEN {
            return Err(Error::record(
                &self.file,
                format!(r"{key}\F"),
                format!("{} bytes, expected {}", fdata.len(), f::LEN),
            ));
        }
        let vrec = self.user_v(rid)?;
        let time = |at| records::u64_at(&fdata, at).filter(|&t| t != 0 && t != i64::MAX as u64);
        let nt = vrec.item(v::NT_HASH);
        let has_password = nt.len() > crypto::EMPTY_ENTRY_AES
            || (nt.len() > crypto::EMPTY_ENTRY_RC4 && nt.get(2) == Some(&1));
        Ok(User {
            rid,
            sid: self
                .machine_sid()?
                .with_rid(rid)
                .map_err(|e| Error::record(&self.file, &key, e.to_string()))?,
            name: records::utf16(vrec.item(v::NAME)),
            full_name: records::utf16(vrec.item(v::FULL_NAME)),
            comment: records::utf16(vrec.item(v::COMMENT)),
            flags: records::u32_at(&fdata, f::FLAGS).unwrap_or(0),
            last_logon: time(f::LAST_LOGON),
            password_last_set: time(f::PASSWORD_LAST_SET),
            account_expires: time(f::ACCOUNT_EXPIRES),
            logon_count: records::u16_at(&fdata, f::LOGON_COUNT).unwrap_or(0),
            bad_password_count: records::u16_at(&fdata, f::BAD_PASSWORD_COUNT).unwrap_or(0),
            has_password,
        })
    }

    /// The user with this name (compared as Windows does, without case).
    pub fn user_by_name(&self, name: &str) -> Result<User> {
        let wanted = hive::names::upcase_str(name);
        for user in self.users()? {
            if hive::names::upcase_str(&user.name) == wanted {
                return Ok(user);
            }
        }
        Err(Error::NoSuchUser {
            file: self.file.clone(),
            who: format!("named {name:?}"),
        })
    }

    pub(crate) fn user_v(&self, rid: u32) -> Result<Variable> {
        let key = user_key(rid);
        let data = self.value(&key, "V")?;
        Variable::parse(&data, 0, v::COUNT)
            .map_err(|reason| Error::record(&self.file, format!(r"{key}\V"), reason))
    }

    /// Every alias of both domains: built-in ones first, each in RID order.
    pub fn aliases(&self) -> Result<Vec<Alias>> {
        let mut out = Vec::new();
        for domain in [AliasDomain::Builtin, AliasDomain::Account] {
            let Some(key) = self
                .hive
                .key(aliases_key(domain))
                .map_err(Error::hive(&self.file))?
            else {
                continue;
            };
            for k in key.subkeys().map_err(Error::hive(&self.file))? {
                if let Ok(rid) = u32::from_str_radix(&k.name(), 16)
                    && k.name().len() == 8
                {
                    out.push(self.alias(domain, rid)?);
                }
            }
        }
        Ok(out)
    }

    /// One alias by domain and RID.
    pub fn alias(&self, domain: AliasDomain, rid: u32) -> Result<Alias> {
        let key = format!(r"{}\{rid:08X}", aliases_key(domain));
        if self
            .hive
            .key(&key)
            .map_err(Error::hive(&self.file))?
            .is_none()
        {
            return Err(Error::NoSuchAlias {
                file: self.file.clone(),
                rid,
            });
        }
        let rec = self.alias_c(&key)?;
        let members = records::parse_sids(rec.item(c::MEMBERS))
            .map_err(|reason| Error::record(&self.file, format!(r"{key}\C"), reason))?;
        let sid = match domain {
            AliasDomain::Builtin => Sid::new(5, &[32, rid]),
            AliasDomain::Account => self.machine_sid()?.with_rid(rid),
        }
        .map_err(|e| Error::record(&self.file, &key, e.to_string()))?;
        Ok(Alias {
            rid,
            domain,
            sid,
            name: records::utf16(rec.item(c::NAME)),
            comment: records::utf16(rec.item(c::COMMENT)),
            members,
        })
    }

    pub(crate) fn alias_c(&self, key: &str) -> Result<Variable> {
        let data = self.value(key, "C")?;
        Variable::parse(&data, 4, c::COUNT)
            .map_err(|reason| Error::record(&self.file, format!(r"{key}\C"), reason))
    }

    /// The aliases `sid` is a direct member of.
    pub fn aliases_of(&self, sid: &Sid) -> Result<Vec<Alias>> {
        Ok(self
            .aliases()?
            .into_iter()
            .filter(|a| a.members.contains(sid))
            .collect())
    }

    fn system_label(&self) -> String {
        self.system
            .as_ref()
            .map_or_else(String::new, |s| s.file.clone())
    }

    /// The SAM key (hashed boot key), from the SYSTEM's boot key.
    pub(crate) fn sam_key(&self) -> Result<(KeyScheme, [u8; 16])> {
        let system = self.system.as_ref().ok_or_else(|| Error::NeedSystem {
            file: self.file.clone(),
        })?;
        let fdata = self.domain_f()?;
        let key0 = &fdata[domain_f::KEY0..];
        let wrong = |reason: String| Error::WrongSystem {
            sam: self.file.clone(),
            system: self.system_label(),
            reason,
        };
        let found = match crypto::decrypt_sam_key(key0, &system.boot_key) {
            Ok(found) => found,
            Err(CryptoError::Malformed(reason)) => {
                return Err(Error::record(&self.file, r"SAM\Domains\Account\F", reason));
            }
            Err(CryptoError::WrongKey(reason)) => return Err(wrong(reason)),
        };
        if !found.verified && !self.hash_entries_decrypt(&found.key)? {
            return Err(wrong(
                "the revision-2 key decrypts neither to a padded key nor any user's hash".into(),
            ));
        }
        Ok((found.scheme, found.key))
    }

    /// Second proof of an AES SAM key: every stored NT hash decrypts to valid padding
    /// (false when no user has a password to check).
    fn hash_entries_decrypt(&self, key: &[u8; 16]) -> Result<bool> {
        let mut checked = 0;
        for rid in self.user_rids()? {
            let vrec = self.user_v(rid)?;
            match crypto::decrypt_hash_entry(key, rid, HashKind::Nt, vrec.item(v::NT_HASH)) {
                Ok(Some(_)) => checked += 1,
                Ok(None) => {}
                Err(_) => return Ok(false),
            }
        }
        Ok(checked > 0)
    }

    /// The NT hash of a user's password; `None` when the account has no password.
    /// Needs the SYSTEM hive. This is a secret: callers must not print it casually.
    pub fn nt_hash(&self, rid: u32) -> Result<Option<[u8; 16]>> {
        let (_, key) = self.sam_key()?;
        let vrec = self.user_v(rid)?;
        crypto::decrypt_hash_entry(&key, rid, HashKind::Nt, vrec.item(v::NT_HASH)).map_err(|e| {
            match e {
                CryptoError::Malformed(reason) => {
                    Error::record(&self.file, format!(r"{}\V", user_key(rid)), reason)
                }
                CryptoError::WrongKey(reason) => Error::WrongSystem {
                    sam: self.file.clone(),
                    system: self.system_label(),
                    reason: format!("user {rid}: {reason}"),
                },
            }
        })
    }

    /// True when `password` is the user's password (compares NT hashes).
    pub fn verify_password(&self, rid: u32, password: &str) -> Result<bool> {
        let stored = self.nt_hash(rid)?;
        Ok(stored.unwrap_or(crypto::nt_hash("")) == crypto::nt_hash(password))
    }
}

/// `Users\<RID>` as Windows names it (8 upper-case hex digits).
pub(crate) fn user_key(rid: u32) -> String {
    format!(r"{}\{rid:08X}", paths::USERS)
}

pub(crate) fn aliases_key(domain: AliasDomain) -> &'static str {
    match domain {
        AliasDomain::Builtin => paths::BUILTIN_ALIASES,
        AliasDomain::Account => paths::ACCOUNT_ALIASES,
    }
}
