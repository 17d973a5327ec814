//! SID translation in security descriptors, with ADMT's three modes.
//!
//! Translation only swaps, copies or drops SIDs: it never reorders ACEs, merges them or
//! touches masks and flags, and keeps the descriptor's byte layout (offsets and sizes are
//! recomputed on serialization). A map may not chain (a new SID that is also an old one),
//! which makes every mode idempotent.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::acl::Acl;
use crate::error::Error;
use crate::sd::SecurityDescriptor;
use crate::sid::Sid;

/// How old SIDs are treated (ADMT's security translation options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// Owner, group and every ACE trustee: old SID → new SID.
    Replace,
    /// Keep each ACE of an old SID and insert a copy for the new SID right after it.
    /// Owner and group stay as they are.
    Add,
    /// Drop the ACEs of old SIDs. Owner and group stay as they are.
    Remove,
}

/// What a translation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct TranslateStats {
    /// The owner was replaced.
    pub owner: bool,
    /// The group was replaced.
    pub group: bool,
    /// DACL entries replaced, added or removed.
    pub dacl_aces: usize,
    /// SACL entries replaced, added or removed.
    pub sacl_aces: usize,
    /// Entries inserted ([`Mode::Add`]).
    pub added: usize,
    /// Entries dropped ([`Mode::Remove`]).
    pub removed: usize,
}

impl TranslateStats {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Old SID → new SID, ordered by old SID. Serializes (serde) as a map of SID strings;
/// deserializing applies the same checks as [`SidMap::insert`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "BTreeMap<Sid, Sid>", try_from = "BTreeMap<Sid, Sid>")]
pub struct SidMap {
    entries: BTreeMap<Sid, Sid>,
}

impl SidMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `old → new`, returning the SID `old` mapped to before. Refuses identity
    /// pairs and chains (`new` already an old SID, or `old` already a new SID), which
    /// would make translation depend on how often it ran.
    pub fn insert(&mut self, old: Sid, new: Sid) -> Result<Option<Sid>, Error> {
        let invalid = |reason| Error::InvalidMapping {
            input: format!("{old}={new}"),
            reason,
        };
        if old == new {
            return Err(invalid("a SID mapped to itself"));
        }
        if self.entries.contains_key(&new) {
            return Err(invalid(
                "the new SID is also mapped from (chains are not allowed)",
            ));
        }
        if self.entries.values().any(|target| *target == old) {
            return Err(invalid(
                "the old SID is also mapped to (chains are not allowed)",
            ));
        }
        Ok(self.entries.insert(old, new))
    }

    /// The new SID for `old`.
    pub fn get(&self, old: &Sid) -> Option<&Sid> {
        self.entries.get(old)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The pairs, ordered by old SID.
    pub fn iter(&self) -> impl Iterator<Item = (&Sid, &Sid)> {
        self.entries.iter()
    }

    /// Parses `OLD=NEW` (whitespace around either side is ignored).
    pub fn parse_pair(text: &str) -> Result<(Sid, Sid), Error> {
        let (old, new) = text.split_once('=').ok_or_else(|| Error::InvalidMapping {
            input: text.to_owned(),
            reason: "expected OLD=NEW",
        })?;
        Ok((old.trim().parse()?, new.trim().parse()?))
    }

    /// Builds a map from `OLD=NEW` strings.
    pub fn from_pairs<I, S>(pairs: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut map = Self::new();
        for pair in pairs {
            let (old, new) = Self::parse_pair(pair.as_ref())?;
            map.insert(old, new)?;
        }
        Ok(map)
    }

    /// The map new SID → old SID, to undo a translation; fails if two old SIDs share a
    /// new one.
    pub fn inverse(&self) -> Result<Self, Error> {
        let mut inverse = Self::new();
        for (old, new) in &self.entries {
            if inverse.entries.insert(new.clone(), old.clone()).is_some() {
                return Err(Error::InvalidMapping {
                    input: format!("{old}={new}"),
                    reason: "several old SIDs map to this new SID, the map has no inverse",
                });
            }
        }
        Ok(inverse)
    }
}

impl From<SidMap> for BTreeMap<Sid, Sid> {
    fn from(map: SidMap) -> Self {
        map.entries
    }
}

impl TryFrom<BTreeMap<Sid, Sid>> for SidMap {
    type Error = Error;

    fn try_from(entries: BTreeMap<Sid, Sid>) -> Result<Self, Error> {
        let mut map = Self::new();
        for (old, new) in entries {
            map.insert(old, new)?;
        }
        Ok(map)
    }
}

impl FromStr for SidMap {
    type Err = Error;

    /// `OLD=NEW` pairs separated by commas, semicolons or whitespace.
    fn from_str(text: &str) -> Result<Self, Error> {
        Self::from_pairs(
            text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|pair| !pair.is_empty()),
        )
    }
}

impl fmt::Display for SidMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (old, new)) in self.entries.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{old}={new}")?;
        }
        Ok(())
    }
}

/// Applies `map` to `descriptor`; `None` when nothing matched (keep the original).
pub fn translate(
    descriptor: &SecurityDescriptor,
    map: &SidMap,
    mode: Mode,
) -> Option<(SecurityDescriptor, TranslateStats)> {
    let mut stats = TranslateStats::default();
    let mut result = descriptor.clone();
    if mode == Mode::Replace {
        if let Some(new) = descriptor.owner.as_ref().and_then(|sid| map.get(sid)) {
            result.owner = Some(new.clone());
            stats.owner = true;
        }
        if let Some(new) = descriptor.group.as_ref().and_then(|sid| map.get(sid)) {
            result.group = Some(new.clone());
            stats.group = true;
        }
    }
    if let Some(acl) = &descriptor.dacl
        && let Some(changed) = translate_acl(acl, map, mode, &mut stats, AclKind::Dacl)
    {
        result.dacl = Some(changed);
    }
    if let Some(acl) = &descriptor.sacl
        && let Some(changed) = translate_acl(acl, map, mode, &mut stats, AclKind::Sacl)
    {
        result.sacl = Some(changed);
    }
    (!stats.is_empty()).then_some((result, stats))
}

/// Parses, translates and re-serializes; `Ok(None)` when nothing matched, so callers
/// leave the stored bytes untouched.
pub fn translate_bytes(bytes: &[u8], map: &SidMap, mode: Mode) -> Result<Option<Vec<u8>>, Error> {
    Ok(translate_bytes_with_stats(bytes, map, mode)?.map(|(bytes, _)| bytes))
}

/// [`translate_bytes`] that also reports what changed.
pub fn translate_bytes_with_stats(
    bytes: &[u8],
    map: &SidMap,
    mode: Mode,
) -> Result<Option<(Vec<u8>, TranslateStats)>, Error> {
    let descriptor = SecurityDescriptor::from_bytes(bytes)?;
    match translate(&descriptor, map, mode) {
        Some((translated, stats)) => Ok(Some((translated.to_bytes()?, stats))),
        None => Ok(None),
    }
}

#[derive(Clone, Copy)]
enum AclKind {
    Dacl,
    Sacl,
}

/// The translated ACL, or `None` if no ACE changed.
fn translate_acl(
    acl: &Acl,
    map: &SidMap,
    mode: Mode,
    stats: &mut TranslateStats,
    kind: AclKind,
) -> Option<Acl> {
    let mut changed = 0;
    let mut aces = Vec::with_capacity(acl.aces.len());
    for (index, ace) in acl.aces.iter().enumerate() {
        let Some(new_sid) = ace.sid().and_then(|sid| map.get(sid)) else {
            aces.push(ace.clone());
            continue;
        };
        match mode {
            Mode::Replace => {
                aces.push(ace.with_sid(new_sid.clone()));
                changed += 1;
            }
            Mode::Add => {
                aces.push(ace.clone());
                let copy = ace.with_sid(new_sid.clone());
                // An earlier Add already inserted this copy: adding again would duplicate.
                if acl.aces.get(index + 1) != Some(&copy) {
                    aces.push(copy);
                    changed += 1;
                    stats.added += 1;
                }
            }
            Mode::Remove => {
                changed += 1;
                stats.removed += 1;
            }
        }
    }
    if changed == 0 {
        return None;
    }
    match kind {
        AclKind::Dacl => stats.dacl_aces += changed,
        AclKind::Sacl => stats.sacl_aces += changed,
    }
    Some(Acl {
        revision: acl.revision,
        sbz1: acl.sbz1,
        sbz2: acl.sbz2,
        aces,
        trailing: acl.trailing.clone(),
    })
}
