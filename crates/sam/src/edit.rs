//! Changing the SAM: create a user the way `NetUserAdd` (`New-LocalUser`) does, set a
//! password, enable or disable, delete; then save through the hive engine's clean atomic
//! write. Every change is all-or-nothing in memory (the hive is restored on any error),
//! and `save` validates the whole hive before anything reaches the disk.

use hive::SaveReport;
use ntsec::Sid;

use crate::catalog::{self, RecordSd};
use crate::crypto::{self, HashKind, KeyScheme};
use crate::error::{Error, Result};
use crate::layout::{self, UserF, UserV};
use crate::names::validate_name;
use crate::records::{self, Item, domain_f, f, v};
use crate::rng::Random;
use crate::sam::{AliasDomain, Sam, User, alias, flags, paths, user_key};

/// What a new local account looks like. `Debug` hides the password.
#[derive(Clone, Default)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub full_name: &'a str,
    /// The description ("Created by admu", …).
    pub comment: &'a str,
    /// `None` creates the account without a password (it then needs
    /// `password-not-required` to log on; Windows' policy usually forbids it).
    pub password: Option<&'a str>,
    /// Also a member of Administrators (every new user is a member of Users).
    pub admin: bool,
    pub password_never_expires: bool,
    pub disabled: bool,
    /// Lay the account out as Windows setup (OOBE) creates the first user: its own ACE
    /// first in the descriptor, no logon-hours bitmap, account expiry "never", and a
    /// member of Administrators only (not of Users). For generated samples.
    pub setup_account: bool,
}

impl std::fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("full_name", &self.full_name)
            .field("comment", &self.comment)
            .field("password", &self.password.map(|_| "<hidden>"))
            .field("admin", &self.admin)
            .field("password_never_expires", &self.password_never_expires)
            .field("disabled", &self.disabled)
            .field("setup_account", &self.setup_account)
            .finish()
    }
}

/// Everything [`Sam::insert_user`] writes for one account.
#[derive(Clone)]
pub(crate) struct UserSpec<'a> {
    pub rid: u32,
    pub name: &'a str,
    pub full_name: &'a str,
    pub comment: &'a str,
    pub nt_hash: Option<[u8; 16]>,
    pub flags: u32,
    pub account_expires: u64,
    pub password_last_set: u64,
    pub security: RecordSd,
    pub logon_hours: bool,
    pub force_password_reset: bool,
    pub aliases: &'a [u32],
}

/// RIDs below this are built-in accounts; Windows numbers new accounts from here.
pub const FIRST_USER_RID: u32 = 1000;

impl Sam {
    /// Where salts come from (the OS by default; seeded for reproducible samples).
    pub fn set_random(&mut self, random: Random) {
        self.random = random;
    }

    /// Pins the clock (FILETIME) used for timestamps in records and keys, so that a
    /// seeded sample comes out byte for byte the same; `None` restores the real clock.
    pub fn set_fixed_time(&mut self, filetime: Option<u64>) {
        self.fixed_time = filetime;
    }

    pub(crate) fn now(&self) -> u64 {
        self.fixed_time.unwrap_or_else(hive::edit::filetime_now)
    }

    /// Runs an edit on the hive; on error the hive is as it was before.
    pub(crate) fn transact<T>(&mut self, edit: impl FnOnce(&mut Sam) -> Result<T>) -> Result<T> {
        let before = self.hive.clone();
        let result = edit(self).and_then(|value| {
            if let Some(t) = self.fixed_time {
                for key in self
                    .hive
                    .all_key_offsets()
                    .map_err(Error::hive(&self.file))?
                {
                    self.hive
                        .set_last_written(key, t)
                        .map_err(Error::hive(&self.file))?;
                }
            }
            Ok(value)
        });
        if result.is_err() {
            self.hive = before;
        }
        result
    }

    pub(crate) fn key_offset(&self, path: &str) -> Result<u32> {
        Ok(self.require(path, "every SAM hive has it")?.offset())
    }

    pub(crate) fn set_binary(&mut self, key: &str, name: &str, data: &[u8]) -> Result<()> {
        let off = self.key_offset(key)?;
        self.hive
            .set_value(off, name, hive::value::types::BINARY, data)
            .map_err(Error::hive(&self.file))
    }

    /// The layout generation of the records (2 = Windows 7, 3 = Windows 10).
    pub(crate) fn record_revision(&self) -> Result<u16> {
        Ok(records::u16_at(&self.domain_f()?, 0).unwrap_or(3))
    }

    /// Whether record descriptors carry the Windows 8+ capability ACE.
    fn uses_capability_ace(&self) -> Result<bool> {
        let v = self.value(paths::ACCOUNT, "V")?;
        let cap = catalog::capability_sid().to_bytes();
        Ok(v.windows(cap.len()).any(|w| w == cap))
    }

    /// The key id hash entries carry: copied from an existing entry, else Windows'
    /// default for the scheme.
    fn pek_id(&self, scheme: KeyScheme) -> Result<u16> {
        for rid in self.user_rids()? {
            if let Some(id) = records::u16_at(self.user_v(rid)?.item(v::NT_HASH), 0) {
                return Ok(id);
            }
        }
        Ok(match scheme {
            KeyScheme::Rc4 => 3,
            KeyScheme::Aes => 4,
        })
    }

    /// A hash entry for `rid` with a fresh salt.
    fn hash_entry(&mut self, rid: u32, kind: HashKind, hash: Option<&[u8; 16]>) -> Result<Vec<u8>> {
        let (scheme, key) = self.sam_key()?;
        let pek = self.pek_id(scheme)?;
        let salt = self.random.bytes16()?;
        Ok(crypto::encrypt_hash_entry(
            scheme, &key, rid, kind, hash, pek, &salt,
        ))
    }

    fn update_domain_f(&mut self, next_rid: Option<u32>) -> Result<()> {
        let mut data = self.domain_f()?;
        let count = records::u64_at(&data, domain_f::MODIFIED_COUNT)
            .unwrap_or(0)
            .wrapping_add(1);
        records::put_u64(&mut data, domain_f::MODIFIED_COUNT, count);
        if let Some(rid) = next_rid {
            records::put_u32(&mut data, domain_f::NEXT_RID, rid);
        }
        self.set_binary(paths::ACCOUNT, "F", &data)
    }

    /// The RID a new account gets: NextRid, skipping any RID already in use.
    fn free_rid(&self) -> Result<u32> {
        let used: Vec<u32> = self
            .user_rids()?
            .into_iter()
            .chain(
                self.aliases()?
                    .into_iter()
                    .filter(|a| a.domain == AliasDomain::Account)
                    .map(|a| a.rid),
            )
            .chain([0x201])
            .collect();
        let mut rid = self.next_rid()?.max(FIRST_USER_RID);
        while used.contains(&rid) {
            rid = rid.checked_add(1).ok_or_else(|| Error::Refused {
                file: self.file.clone(),
                reason: "no RID left for a new account".into(),
            })?;
        }
        Ok(rid)
    }

    /// Creates a local user as `NetUserAdd` would: next free RID, `F` and `V` records,
    /// the password's NT hash encrypted for this SAM's scheme with a fresh salt, the
    /// `Names` entry, membership in group None and alias Users (and Administrators when
    /// asked), NextRid advanced. Needs the SYSTEM hive (the hashes' key).
    pub fn create_user(&mut self, new: &NewUser<'_>) -> Result<User> {
        validate_name(new.name)?;
        if new.full_name.encode_utf16().count() > 256 || new.comment.encode_utf16().count() > 256 {
            return Err(Error::Refused {
                file: self.file.clone(),
                reason: "full name and comment are limited to 256 characters".into(),
            });
        }
        self.sam_key()?;
        self.check_name_free(new.name)?;
        self.transact(|sam| sam.create_user_unchecked(new))
    }

    fn create_user_unchecked(&mut self, new: &NewUser<'_>) -> Result<User> {
        let rid = self.free_rid()?;
        let mut word = flags::NORMAL_ACCOUNT;
        if new.password_never_expires {
            word |= flags::DONT_EXPIRE_PASSWORD;
        }
        if new.disabled {
            word |= flags::DISABLED;
        }
        if new.password.is_none() {
            word |= flags::PASSWORD_NOT_REQUIRED;
        }
        let mut aliases = vec![alias::USERS];
        if new.admin {
            aliases.push(alias::ADMINISTRATORS);
        }
        let (security, account_expires) = if new.setup_account {
            aliases = vec![alias::ADMINISTRATORS];
            (RecordSd::OobeUser, layout::NEVER)
        } else {
            (RecordSd::User, 0)
        };
        let now = self.now();
        self.insert_user(&UserSpec {
            rid,
            name: new.name,
            full_name: new.full_name,
            comment: new.comment,
            nt_hash: new.password.map(crypto::nt_hash),
            flags: word,
            account_expires,
            password_last_set: now,
            security,
            logon_hours: !new.setup_account,
            force_password_reset: true,
            aliases: &aliases,
        })?;
        self.update_domain_f(Some(rid.saturating_add(1)))?;
        self.user(rid)
    }

    /// Writes a user's key, records, `Names` entry and memberships.
    pub(crate) fn insert_user(&mut self, spec: &UserSpec<'_>) -> Result<()> {
        let rid = spec.rid;
        let revision = self.record_revision()?;
        let sid = self.account_sid(rid)?;
        let subject = (spec.security != RecordSd::Guest).then_some(&sid);
        let v = UserV {
            revision,
            security: catalog::record_sd(spec.security, subject, self.uses_capability_ace()?)?,
            name: spec.name,
            full_name: spec.full_name,
            comment: spec.comment,
            logon_hours: spec.logon_hours,
            lm: self.hash_entry(rid, HashKind::Lm, None)?,
            nt: self.hash_entry(rid, HashKind::Nt, spec.nt_hash.as_ref())?,
            lm_history: self.hash_entry(rid, HashKind::Lm, None)?,
            nt_history: self.hash_entry(rid, HashKind::Nt, None)?,
        };
        let f = UserF {
            revision,
            rid,
            flags: spec.flags,
            account_expires: spec.account_expires,
            password_last_set: spec.password_last_set,
        };
        let key = user_key(rid);
        let off = self
            .hive
            .create_key_path(&key)
            .map_err(Error::hive(&self.file))?;
        let binary = hive::value::types::BINARY;
        self.hive
            .set_value(off, "F", binary, &f.to_bytes())
            .map_err(Error::hive(&self.file))?;
        self.hive
            .set_value(off, "V", binary, &v.to_record().to_bytes())
            .map_err(Error::hive(&self.file))?;
        // Windows 8+ (revision-3 records) writes this value; Windows 7 never has it.
        if spec.force_password_reset && revision >= 3 {
            self.hive
                .set_value(off, "ForcePasswordReset", binary, &[0; 4])
                .map_err(Error::hive(&self.file))?;
        }
        let names = self.key_offset(paths::USER_NAMES)?;
        let name_key = self
            .hive
            .create_key(names, spec.name)
            .map_err(Error::hive(&self.file))?;
        self.hive
            .set_value(name_key, "", rid, &[])
            .map_err(Error::hive(&self.file))?;
        self.bump_count(paths::USERS, 1)?;
        self.change_group_none(rid, true)?;
        for &alias_rid in spec.aliases {
            self.change_alias_member(AliasDomain::Builtin, alias_rid, &sid, true)?;
        }
        Ok(())
    }

    /// Sets a user's password: a new NT hash entry (fresh salt), an empty LM entry,
    /// `password last set` = now, the `password expired` bit cleared. History entries
    /// and other flags are kept as they are.
    pub fn set_password(&mut self, rid: u32, password: &str) -> Result<()> {
        if password.is_empty() {
            return Err(Error::Refused {
                file: self.file.clone(),
                reason: "an empty password cannot be set".into(),
            });
        }
        self.user(rid)?;
        self.sam_key()?;
        self.transact(|sam| {
            let mut rec = sam.user_v(rid)?;
            let hash = crypto::nt_hash(password);
            rec.items[v::NT_HASH] = Item::new(sam.hash_entry(rid, HashKind::Nt, Some(&hash))?, 0);
            rec.items[v::LM_HASH] = Item::new(sam.hash_entry(rid, HashKind::Lm, None)?, 0);
            let key = user_key(rid);
            sam.set_binary(&key, "V", &rec.to_bytes())?;
            let now = sam.now();
            sam.edit_f(rid, |data| {
                records::put_u64(data, f::PASSWORD_LAST_SET, now);
                let word = records::u32_at(data, f::FLAGS).unwrap_or(0) & !flags::PASSWORD_EXPIRED;
                records::put_u32(data, f::FLAGS, word);
            })?;
            sam.update_domain_f(None)
        })
    }

    /// Enables or disables a user (the `disabled` bit of its account control word).
    pub fn set_disabled(&mut self, rid: u32, disabled: bool) -> Result<()> {
        self.user(rid)?;
        self.transact(|sam| {
            sam.edit_f(rid, |data| {
                let word = records::u32_at(data, f::FLAGS).unwrap_or(0);
                let word = if disabled {
                    word | flags::DISABLED
                } else {
                    word & !flags::DISABLED
                };
                records::put_u32(data, f::FLAGS, word);
            })?;
            sam.update_domain_f(None)
        })
    }

    fn edit_f(&mut self, rid: u32, change: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let key = user_key(rid);
        let mut data = self.value(&key, "F")?;
        if data.len() < f::LEN {
            return Err(Error::record(
                &self.file,
                format!(r"{key}\F"),
                format!("{} bytes, expected {}", data.len(), f::LEN),
            ));
        }
        change(&mut data);
        self.set_binary(&key, "F", &data)
    }

    /// Deletes a user (for `admu revert`): its aliases and group membership, its
    /// `Names` entry and its key. Built-in accounts (RID below 1000) are refused.
    /// The RID is not reused (NextRid stays).
    pub fn delete_user(&mut self, rid: u32) -> Result<()> {
        let user = self.user(rid)?;
        if rid < FIRST_USER_RID {
            return Err(Error::Refused {
                file: self.file.clone(),
                reason: format!(
                    "{} (RID {rid}) is a built-in account and cannot be deleted",
                    user.name
                ),
            });
        }
        self.transact(|sam| {
            sam.remove_from_all_aliases(&user.sid)?;
            sam.change_group_none(rid, false)?;
            let names = sam.require(paths::USER_NAMES, "every SAM hive has it")?;
            if let Some(entry) = names.subkey(&user.name).map_err(Error::hive(&sam.file))? {
                let off = entry.offset();
                sam.hive.delete_key(off).map_err(Error::hive(&sam.file))?;
            }
            let off = sam.key_offset(&user_key(rid))?;
            sam.hive.delete_key(off).map_err(Error::hive(&sam.file))?;
            sam.bump_count(paths::USERS, -1)?;
            sam.update_domain_f(None)
        })
    }

    /// Everything a save checks: the hive's structure (no error finding), every user
    /// and alias record parses, every user has its `Names` entry, and alias member
    /// arrays agree with the reverse index.
    pub fn validate(&self) -> Result<()> {
        let report = self.hive.check();
        if !report.is_ok() {
            let findings: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.severity == hive::Severity::Error)
                .take(5)
                .map(|f| format!("at {:#x}: {}", f.offset, f.message))
                .collect();
            return Err(Error::CheckFailed {
                file: self.file.clone(),
                findings: findings.join("; "),
            });
        }
        let names = self.require(paths::USER_NAMES, "every SAM hive has it")?;
        for user in self.users()? {
            let entry = names.subkey(&user.name).map_err(Error::hive(&self.file))?;
            let kind = entry
                .and_then(|k| k.value("").ok().flatten())
                .map(|val| val.kind());
            if kind != Some(user.rid) {
                return Err(Error::record(
                    &self.file,
                    format!(r"{}\{}", paths::USER_NAMES, user.name),
                    format!("missing or not pointing at RID {}", user.rid),
                ));
            }
        }
        self.check_membership()?;
        Ok(())
    }

    /// Validates, then writes the SAM over the file it was read from (temp file, fsync,
    /// rename) and empties its transaction logs. On any error the file is untouched.
    pub fn save(&mut self) -> Result<SaveReport> {
        self.validate()?;
        self.hive.save().map_err(Error::hive(&self.file))
    }

    /// [`Sam::save`] with the hive engine's options (e.g. a `before_rename` hook that
    /// carries the file's NTFS security descriptor over to the new file).
    pub fn save_with(&mut self, options: hive::SaveOptions<'_>) -> Result<SaveReport> {
        self.validate()?;
        self.hive
            .save_with(options)
            .map_err(Error::hive(&self.file))
    }

    /// Validates, then writes the SAM to another file.
    pub fn save_as(&mut self, path: impl AsRef<std::path::Path>) -> Result<SaveReport> {
        self.validate()?;
        self.hive.save_as(path).map_err(Error::hive(&self.file))
    }

    /// The SID of a local account with this RID.
    pub fn account_sid(&self, rid: u32) -> Result<Sid> {
        self.machine_sid()?
            .with_rid(rid)
            .map_err(|e| Error::record(&self.file, paths::ACCOUNT, e.to_string()))
    }
}
