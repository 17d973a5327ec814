//! Alias (local group) membership, kept in two places that must agree (formats.md §4.7):
//! the member SID array in the alias's `C` value, and the reverse index
//! `Aliases\Members\<member's domain SID>\<member RID>` whose default value lists the
//! member's aliases (type = how many, data = their RIDs). Plus the member array of
//! group 513 "None", which holds every local user.

use ntsec::{Ace, AceFlags, AceType, SecurityDescriptor, Sid};

use crate::error::{Error, Result};
use crate::layout::GROUP_PREFIX;
use crate::records::{self, Item, Variable, c, f, v};
use crate::sam::{AliasDomain, Sam, alias, aliases_key, user_key};

/// Built-in aliases whose members Windows counts in a user's `F` (NT's
/// `SampChangeOperatorAccessToUser`): Administrators in the admin count, the operator
/// aliases (Account, Server, Print, Backup Operators) in the operator count. While either
/// count is non-zero the user's descriptor has no Account Operators ACE, so that account
/// operators cannot take over an administrator.
const OPERATOR_ALIASES: [u32; 4] = [0x224, 0x225, 0x226, 0x227];
/// `S-1-5-32-548`, and the access its ACE grants on a user record (`USER_ALL_ACCESS`).
const ACCOUNT_OPERATORS_RID: u32 = 0x224;
const USER_ALL_ACCESS: u32 = 0xF07FF;

/// A member SID as the reverse index files it: everything but the last sub-authority
/// (`S-1-5` for `S-1-5-4`, the machine SID for a local user) and that last one.
fn split_member(sid: &Sid) -> Option<(Sid, u32)> {
    let (rid, prefix) = sid.sub_authorities().split_last()?;
    Some((Sid::new(sid.authority(), prefix).ok()?, *rid))
}

/// `Groups\00000201`: group "None", every local user's primary group.
const GROUP_NONE_KEY: &str = r"SAM\Domains\Account\Groups\00000201";

impl Sam {
    /// Adds `member` to an alias; `Ok(false)` when it already was a member.
    pub fn add_alias_member(
        &mut self,
        domain: AliasDomain,
        alias_rid: u32,
        member: &Sid,
    ) -> Result<bool> {
        self.transact(|sam| sam.change_alias_member(domain, alias_rid, member, true))
    }

    /// Removes `member` from an alias; `Ok(false)` when it was not a member.
    pub fn remove_alias_member(
        &mut self,
        domain: AliasDomain,
        alias_rid: u32,
        member: &Sid,
    ) -> Result<bool> {
        self.transact(|sam| sam.change_alias_member(domain, alias_rid, member, false))
    }

    pub(crate) fn change_alias_member(
        &mut self,
        domain: AliasDomain,
        alias_rid: u32,
        member: &Sid,
        add: bool,
    ) -> Result<bool> {
        let key = format!(r"{}\{alias_rid:08X}", aliases_key(domain));
        if self
            .hive
            .key(&key)
            .map_err(Error::hive(&self.file))?
            .is_none()
        {
            return Err(Error::NoSuchAlias {
                file: self.file.clone(),
                rid: alias_rid,
            });
        }
        let mut rec = self.alias_c(&key)?;
        let record = format!(r"{key}\C");
        let mut members = records::parse_sids(rec.item(c::MEMBERS))
            .map_err(|reason| Error::record(&self.file, &record, reason))?;
        let present = members.contains(member);
        if present == add {
            return Ok(false);
        }
        if domain == AliasDomain::Builtin {
            self.change_admin_protection(alias_rid, member, add)?;
        }
        if add {
            members.push(member.clone());
        } else {
            members.retain(|m| m != member);
        }
        rec.items[c::MEMBERS] = Item::new(
            members.iter().flat_map(Sid::to_bytes).collect(),
            members.len() as u32,
        );
        self.set_binary(&key, "C", &rec.to_bytes())?;
        self.change_reverse_index(domain, alias_rid, member, add)?;
        Ok(true)
    }

    /// Keeps a local user's admin and operator counts (`F`+0x44, +0x48) in step with its
    /// membership of the admin and operator aliases, as Windows does, and when the user
    /// becomes (or stops being) protected, takes the Account Operators ACE out of its
    /// descriptor (or puts it back after the Administrators ACE, where a new user has it).
    /// Members that are not users of this SAM have no record to change.
    fn change_admin_protection(&mut self, alias_rid: u32, member: &Sid, add: bool) -> Result<()> {
        let admin = alias_rid == alias::ADMINISTRATORS;
        if !admin && !OPERATOR_ALIASES.contains(&alias_rid) {
            return Ok(());
        }
        let Some(rid) = member.rid().filter(|_| {
            self.machine_sid()
                .is_ok_and(|machine| member.is_in_domain(&machine))
        }) else {
            return Ok(());
        };
        let key = user_key(rid);
        if self
            .hive
            .key(&key)
            .map_err(Error::hive(&self.file))?
            .is_none()
        {
            return Ok(());
        }
        let mut fixed = self.value(&key, "F")?;
        if fixed.len() < f::LEN {
            return Err(Error::record(
                &self.file,
                format!(r"{key}\F"),
                format!("{} bytes, expected {}", fixed.len(), f::LEN),
            ));
        }
        let field = if admin {
            f::ADMIN_COUNT
        } else {
            f::OPERATOR_COUNT
        };
        let counts = |data: &[u8]| {
            [f::ADMIN_COUNT, f::OPERATOR_COUNT].map(|at| records::u16_at(data, at).unwrap_or(0))
        };
        let protected_before = counts(&fixed) != [0, 0];
        let count = records::u16_at(&fixed, field).unwrap_or(0);
        let count = if add {
            count.saturating_add(1)
        } else {
            count.saturating_sub(1)
        };
        records::put_u16(&mut fixed, field, count);
        let protected_after = counts(&fixed) != [0, 0];
        self.set_binary(&key, "F", &fixed)?;
        if protected_before == protected_after {
            return Ok(());
        }
        let mut rec = self.user_v(rid)?;
        let record = format!(r"{key}\V");
        let mut sd = SecurityDescriptor::from_bytes(rec.item(v::SECURITY))
            .map_err(|e| Error::record(&self.file, &record, format!("descriptor: {e}")))?;
        let operators = Sid::new(5, &[32, ACCOUNT_OPERATORS_RID])
            .map_err(|e| Error::record(&self.file, &record, e.to_string()))?;
        let Some(dacl) = sd.dacl.as_mut() else {
            return Ok(()); // No DACL: nothing Windows would change either.
        };
        let is_operators_ace =
            |ace: &Ace| ace.ace_type == AceType::ACCESS_ALLOWED && ace.sid() == Some(&operators);
        let has_ace = dacl.aces.iter().any(is_operators_ace);
        if protected_after && has_ace {
            dacl.aces.retain(|ace| !is_operators_ace(ace));
        } else if !protected_after && !has_ace {
            let administrators = Sid::builtin_administrators();
            let at = dacl
                .aces
                .iter()
                .position(|ace| ace.sid() == Some(&administrators))
                .map_or(dacl.aces.len().saturating_sub(1), |i| i + 1);
            let ace = Ace::allowed(AceFlags(0), USER_ALL_ACCESS, operators);
            dacl.aces.insert(at, ace);
        } else {
            return Ok(());
        }
        sd.use_windows_layout();
        let bytes = sd
            .to_bytes()
            .map_err(|e| Error::record(&self.file, &record, format!("descriptor: {e}")))?;
        let extra = rec.items[v::SECURITY].extra;
        rec.items[v::SECURITY] = Item::new(bytes, extra);
        self.set_binary(&key, "V", &rec.to_bytes())
    }

    /// Updates `Members\<domain>\<RID>` for one alias of `member`.
    fn change_reverse_index(
        &mut self,
        domain: AliasDomain,
        alias_rid: u32,
        member: &Sid,
        add: bool,
    ) -> Result<()> {
        let Some((member_domain, member_rid)) = split_member(member) else {
            return Err(Error::Refused {
                file: self.file.clone(),
                reason: format!("{member} has no domain and RID to index"),
            });
        };
        let members_key = format!(r"{}\Members", aliases_key(domain));
        let domain_key = format!(r"{members_key}\{member_domain}");
        let entry_key = format!(r"{domain_key}\{member_rid:08X}");
        let (mut aliases, existed) =
            match self.hive.key(&entry_key).map_err(Error::hive(&self.file))? {
                Some(k) => {
                    let value = k.value("").map_err(Error::hive(&self.file))?;
                    let data = match value {
                        Some(v) => v.data().map_err(Error::hive(&self.file))?.into_owned(),
                        None => Vec::new(),
                    };
                    (
                        data.chunks_exact(4)
                            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                            .collect::<Vec<u32>>(),
                        true,
                    )
                }
                None => (Vec::new(), false),
            };
        if add {
            if !aliases.contains(&alias_rid) {
                aliases.push(alias_rid);
            }
        } else {
            aliases.retain(|&r| r != alias_rid);
        }
        if aliases.is_empty() {
            if existed {
                let off = self.key_offset(&entry_key)?;
                self.hive.delete_key(off).map_err(Error::hive(&self.file))?;
                self.after_index_change(&members_key, &domain_key)?;
            }
            return Ok(());
        }
        let created_domain = self
            .hive
            .key(&domain_key)
            .map_err(Error::hive(&self.file))?
            .is_none();
        let off = self
            .hive
            .create_key_path(&entry_key)
            .map_err(Error::hive(&self.file))?;
        let data: Vec<u8> = aliases.iter().flat_map(|r| r.to_le_bytes()).collect();
        self.hive
            .set_value(off, "", aliases.len() as u32, &data)
            .map_err(Error::hive(&self.file))?;
        if created_domain {
            self.bump_count(&members_key, 1)?;
        }
        if !existed || created_domain {
            self.after_index_change(&members_key, &domain_key)?;
        }
        Ok(())
    }

    /// Keeps a domain key's count (its default value's type) equal to its subkeys, and
    /// drops the domain key when its last member went.
    fn after_index_change(&mut self, members_key: &str, domain_key: &str) -> Result<()> {
        let Some(k) = self.hive.key(domain_key).map_err(Error::hive(&self.file))? else {
            return Ok(());
        };
        let (off, count) = (k.offset(), k.subkey_count());
        if count == 0 {
            self.hive.delete_key(off).map_err(Error::hive(&self.file))?;
            return self.bump_count(members_key, -1);
        }
        self.hive
            .set_value(off, "", count, &[])
            .map_err(Error::hive(&self.file))
    }

    /// Adds `delta` to the count Windows keeps in the type of a key's default value.
    pub(crate) fn bump_count(&mut self, key: &str, delta: i64) -> Result<()> {
        let k = self.require(key, "every SAM hive has it")?;
        let off = k.offset();
        let (kind, data) = match k.value("").map_err(Error::hive(&self.file))? {
            Some(v) => (
                v.kind(),
                v.data().map_err(Error::hive(&self.file))?.into_owned(),
            ),
            None => (0, Vec::new()),
        };
        let kind = (i64::from(kind) + delta).clamp(0, i64::from(u32::MAX)) as u32;
        self.hive
            .set_value(off, "", kind, &data)
            .map_err(Error::hive(&self.file))
    }

    /// Adds or removes a RID in the member array of group 513 "None".
    pub(crate) fn change_group_none(&mut self, rid: u32, add: bool) -> Result<()> {
        if self
            .hive
            .key(GROUP_NONE_KEY)
            .map_err(Error::hive(&self.file))?
            .is_none()
        {
            return Ok(()); // Seen only on damaged SAMs; nothing to keep in step.
        }
        let data = self.value(GROUP_NONE_KEY, "C")?;
        let record = format!(r"{GROUP_NONE_KEY}\C");
        let mut rec = Variable::parse(&data, GROUP_PREFIX, c::COUNT)
            .map_err(|reason| Error::record(&self.file, &record, reason))?;
        let count = rec.items[c::MEMBERS].extra as usize;
        let array = rec.item(c::MEMBERS);
        let mut rids: Vec<u32> = array
            .chunks_exact(4)
            .take(count)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        if rids.len() != count {
            return Err(Error::record(
                &self.file,
                &record,
                format!("says {count} members, holds {}", rids.len()),
            ));
        }
        let capacity = array.len();
        if add && !rids.contains(&rid) {
            rids.push(rid);
        } else if !add {
            rids.retain(|&r| r != rid);
        }
        let mut bytes: Vec<u8> = rids.iter().flat_map(|r| r.to_le_bytes()).collect();
        bytes.resize(bytes.len().max(capacity), 0);
        rec.items[c::MEMBERS] = Item::new(bytes, rids.len() as u32);
        self.set_binary(GROUP_NONE_KEY, "C", &rec.to_bytes())
    }

    /// Removes `sid` from every alias of both domains (before deleting an account).
    pub(crate) fn remove_from_all_aliases(&mut self, sid: &Sid) -> Result<()> {
        for alias in self.aliases()? {
            if alias.members.contains(sid) {
                self.change_alias_member(alias.domain, alias.rid, sid, false)?;
            }
        }
        Ok(())
    }

    /// Checks that the member arrays and the reverse index agree, for every alias.
    pub fn check_membership(&self) -> Result<()> {
        for alias in self.aliases()? {
            for member in &alias.members {
                let Some((d, r)) = split_member(member) else {
                    continue;
                };
                let entry = format!(r"{}\Members\{d}\{r:08X}", aliases_key(alias.domain));
                let listed = self
                    .hive
                    .key(&entry)
                    .map_err(Error::hive(&self.file))?
                    .and_then(|k| k.value("").ok().flatten())
                    .and_then(|v| v.data().ok().map(|d| d.into_owned()))
                    .is_some_and(|d| d.chunks_exact(4).any(|w| w == alias.rid.to_le_bytes()));
                if !listed {
                    return Err(Error::record(
                        &self.file,
                        entry,
                        format!(
                            "{member} is a member of {} but the reverse index does not say so",
                            alias.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
