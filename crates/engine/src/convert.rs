//! Converting a user hive (NTUSER.DAT or UsrClass.dat) from one SID to another: the
//! security descriptors of every key, the UsrClass root name `<SID>_Classes`, key names
//! and value data that carry the SID where real hives keep it (formats.md, profile-state
//! §4.4), the UserChoice hashes (which embed the SID), and admu's marker.
//!
//! Only the mapped SIDs change: other SIDs (the domain's groups, service and
//! AppContainer SIDs) stay unless the caller maps them too.

use hive::{Hive, Key};
use ntsec::{Mode, Sid, SidMap};
use serde::Serialize;

use crate::error::{Error, Result};
use hive::userchoice::{legacy_user_choice_hash, user_choice_hash};

/// Which user hive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UserHive {
    NtUser,
    UsrClass,
}

/// Where admu records, inside the converted NTUSER.DAT, what it did.
pub const MARKER_KEY: &str = r"Software\admu";

/// The keys holding UserChoice associations, relative to the NTUSER root.
pub const USER_CHOICE_ROOTS: [&str; 2] = [
    r"Software\Microsoft\Windows\CurrentVersion\Explorer\FileExts",
    r"Software\Microsoft\Windows\Shell\Associations\UrlAssociations",
];

/// What to convert.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub old: Sid,
    pub new: Sid,
    /// Further mappings (the old domain's groups …), applied to descriptors only.
    pub extra: SidMap,
    pub mode: Mode,
    /// Written into the marker (NTUSER only); `None` writes no marker.
    pub marker: Option<Marker>,
}

/// admu's record of a migration, kept in the new hive so a second migration of the same
/// profile is refused and tools can tell where a profile came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marker {
    pub previous_sid: String,
    pub previous_profile_path: String,
    /// FILETIME of the migration.
    pub migrated_at: u64,
    pub admu_version: String,
    pub migration_id: String,
}

/// What a conversion changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConversionReport {
    pub security: hive::RewriteReport,
    pub root_renamed: bool,
    pub keys_renamed: Vec<String>,
    pub values_rewritten: Vec<String>,
    pub user_choice_rehashed: usize,
    /// UserChoice keys whose hash did not verify for the old SID (left as they were;
    /// Windows had already stopped trusting them).
    pub user_choice_untrusted: Vec<String>,
    pub marker_written: bool,
}

fn hive_err(e: hive::Error) -> Error {
    Error::Invalid(e.to_string())
}

impl Conversion {
    fn full_map(&self) -> Result<SidMap> {
        let mut map = self.extra.clone();
        map.insert(self.old.clone(), self.new.clone())
            .map_err(|e| Error::Invalid(format!("SID map: {e}")))?;
        Ok(map)
    }
}

/// Converts a user hive in memory. The caller saves it.
pub fn convert_user_hive(
    hive: &mut Hive,
    which: UserHive,
    conv: &Conversion,
) -> Result<ConversionReport> {
    let map = conv.full_map()?;
    let old_text = conv.old.to_string();
    let new_text = conv.new.to_string();
    let mut report = ConversionReport {
        security: hive.translate_sids(&map, conv.mode).map_err(hive_err)?,
        ..ConversionReport::default()
    };

    // UserChoice first: its hashes must be checked against the old SID before anything
    // else touches those keys.
    if which == UserHive::NtUser {
        rehash_user_choices(hive, &old_text, &new_text, &mut report)?;
    }

    if which == UserHive::UsrClass {
        let root = hive.root().map_err(hive_err)?;
        let name = root.name();
        if let Some(renamed) = replace_sid_text(&name, &old_text, &new_text) {
            hive.rename_key(root.offset(), &renamed).map_err(hive_err)?;
            report.root_renamed = true;
        }
    }

    // Key names and value data that carry the old SID as text, and binary descriptors.
    let mut renames = Vec::new();
    let mut rewrites: Vec<(u32, String, u32, Vec<u8>)> = Vec::new();
    let root = hive.root().map_err(hive_err)?;
    hive::export::walk(hive, root, "", &mut |key: Key<'_>, path: &str| {
        if !path.is_empty()
            && let Some(new_name) = replace_sid_text(&key.name(), &old_text, &new_text)
        {
            renames.push((path.to_string(), new_name));
        }
        for v in key.values()? {
            let data = v.data()?;
            if let Some(new) = rewrite_value(
                v.kind(),
                &v.name(),
                &data,
                &old_text,
                &new_text,
                &map,
                conv.mode,
            ) {
                rewrites.push((key.offset(), v.name(), v.kind(), new));
                let shown = if path.is_empty() {
                    v.name()
                } else {
                    format!(r"{path}\{}", v.name())
                };
                report.values_rewritten.push(shown);
            }
        }
        Ok(())
    })
    .map_err(hive_err)?;
    // Values first (their keys' offsets are still valid), then renames deepest first
    // (a rename may move a key; renaming children before parents keeps paths valid).
    for (key, name, kind, data) in rewrites {
        let written = hive.key_at(key).map_err(hive_err)?.last_written();
        hive.set_value(key, &name, kind, &data).map_err(hive_err)?;
        hive.set_last_written(key, written).map_err(hive_err)?;
    }
    renames.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('\\').count()));
    for (path, new_name) in renames {
        let key = hive.require_key(&path).map_err(hive_err)?;
        let written = key.last_written();
        let moved = hive.rename_key(key.offset(), &new_name).map_err(hive_err)?;
        hive.set_last_written(moved, written).map_err(hive_err)?;
        report.keys_renamed.push(path);
    }

    if which == UserHive::NtUser
        && let Some(marker) = &conv.marker
    {
        write_marker(hive, marker)?;
        report.marker_written = true;
    }
    Ok(report)
}

/// Replaces whole-SID occurrences of `old` in `text` (ignoring case), so that
/// `S-1-5-21-…-100` never matches inside `S-1-5-21-…-1001`. `None` when absent.
pub fn replace_sid_text(text: &str, old: &str, new: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let needle = old.to_ascii_uppercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut found = false;
    let mut from = 0;
    while let Some(pos) = upper[from..].find(&needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before_ok = !continues_a_sid(&upper.as_bytes()[..start]);
        let after_ok = end == upper.len() || !upper.as_bytes()[end].is_ascii_digit();
        if before_ok && after_ok {
            out.push_str(&text[last..start]);
            out.push_str(new);
            last = end;
            found = true;
        }
        from = end;
    }
    if !found {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Whether text ending here could be the start of a longer SID that a match would sit
/// inside: a digit, or a `-` right after a digit. A `-` after a letter is a separator
/// (Task Scheduler names tasks `…Task-S-1-5-21-…`).
fn continues_a_sid(before: &[u8]) -> bool {
    match before {
        [.., d] if d.is_ascii_digit() => true,
        [.., d, b'-'] => d.is_ascii_digit(),
        _ => false,
    }
}

/// New data for a value that carries a mapped SID, or `None` to leave it.
fn rewrite_value(
    kind: u32,
    name: &str,
    data: &[u8],
    old: &str,
    new: &str,
    map: &SidMap,
    mode: Mode,
) -> Option<Vec<u8>> {
    use hive::value::{decode, encode_multi_sz, encode_sz, types};
    match kind {
        types::SZ | types::EXPAND_SZ => {
            let (hive::Data::String(s) | hive::Data::ExpandString(s)) = decode(kind, data) else {
                return None;
            };
            // Only rewrite data we can write back exactly (NUL-terminated UTF-16).
            (encode_sz(&s) == data).then_some(())?;
            replace_sid_text(&s, old, new).map(|t| encode_sz(&t))
        }
        types::MULTI_SZ => {
            let hive::Data::MultiString(parts) = decode(kind, data) else {
                return None;
            };
            (encode_multi_sz(&parts) == data).then_some(())?;
            let mut changed = false;
            let out: Vec<String> = parts
                .iter()
                .map(|p| match replace_sid_text(p, old, new) {
                    Some(n) => {
                        changed = true;
                        n
                    }
                    None => p.clone(),
                })
                .collect();
            changed.then(|| encode_multi_sz(&out))
        }
        // Binary security descriptors stored as values (ActivatableClasses `Permissions`,
        // certificate-template `Security`): translated like sk cells.
        types::BINARY
            if name.eq_ignore_ascii_case("Permissions")
                || name.eq_ignore_ascii_case("Security") =>
        {
            ntsec::translate_bytes(data, map, mode).ok().flatten()
        }
        _ => None,
    }
}

fn rehash_user_choices(
    hive: &mut Hive,
    old: &str,
    new: &str,
    report: &mut ConversionReport,
) -> Result<()> {
    let mut work = Vec::new();
    for root in USER_CHOICE_ROOTS {
        let Some(parent) = hive.key(root).map_err(hive_err)? else {
            continue;
        };
        for ext in parent.subkeys().map_err(hive_err)? {
            let Some(choice) = ext.subkey("UserChoice").map_err(hive_err)? else {
                continue;
            };
            let (Some(prog), Some(hash)) = (
                choice.value("ProgId").map_err(hive_err)?,
                choice.value("Hash").map_err(hive_err)?,
            ) else {
                continue;
            };
            let prog = hive::value::utf16_until_nul(&prog.data().map_err(hive_err)?);
            let hash = hive::value::utf16_until_nul(&hash.data().map_err(hive_err)?);
            let ext_name = ext.name();
            let t = choice.last_written();
            let fresh = if hash == user_choice_hash(&ext_name, old, &prog, t) {
                Some(user_choice_hash(&ext_name, new, &prog, t))
            } else if hash == legacy_user_choice_hash(&ext_name, old, &prog) {
                Some(legacy_user_choice_hash(&ext_name, new, &prog))
            } else {
                None
            };
            match fresh {
                Some(h) => work.push((choice.offset(), t, h)),
                None => report
                    .user_choice_untrusted
                    .push(format!(r"{root}\{ext_name}\UserChoice")),
            }
        }
    }
    for (key, t, hash) in work {
        hive.set_value(
            key,
            "Hash",
            hive::value::types::SZ,
            &hive::value::encode_sz(&hash),
        )
        .map_err(hive_err)?;
        // The hash covers the key's last-write time: keep it exactly.
        hive.set_last_written(key, t).map_err(hive_err)?;
        report.user_choice_rehashed += 1;
    }
    Ok(())
}

fn write_marker(hive: &mut Hive, m: &Marker) -> Result<()> {
    use hive::value::{encode_sz, types};
    let key = hive.create_key_path(MARKER_KEY).map_err(hive_err)?;
    for (name, value) in [
        ("PreviousSid", m.previous_sid.as_str()),
        ("PreviousProfilePath", m.previous_profile_path.as_str()),
        ("AdmuVersion", m.admu_version.as_str()),
        ("MigrationId", m.migration_id.as_str()),
    ] {
        hive.set_value(key, name, types::SZ, &encode_sz(value))
            .map_err(hive_err)?;
    }
    hive.set_value(
        key,
        "MigratedAt",
        types::QWORD,
        &m.migrated_at.to_le_bytes(),
    )
    .map_err(hive_err)?;
    Ok(())
}

/// The marker in a user hive, if admu migrated it.
pub fn read_marker(hive: &Hive) -> Result<Option<Marker>> {
    let Some(key) = hive.key(MARKER_KEY).map_err(hive_err)? else {
        return Ok(None);
    };
    let text = |name: &str| -> Result<String> {
        Ok(key
            .value(name)
            .map_err(hive_err)?
            .map(|v| v.data().map(|d| hive::value::utf16_until_nul(&d)))
            .transpose()
            .map_err(hive_err)?
            .unwrap_or_default())
    };
    let migrated_at = key
        .value("MigratedAt")
        .map_err(hive_err)?
        .and_then(|v| v.data().ok().and_then(|d| <[u8; 8]>::try_from(&*d).ok()))
        .map(u64::from_le_bytes)
        .unwrap_or(0);
    Ok(Some(Marker {
        previous_sid: text("PreviousSid")?,
        previous_profile_path: text("PreviousProfilePath")?,
        migrated_at,
        admu_version: text("AdmuVersion")?,
        migration_id: text("MigrationId")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_text_is_replaced_only_as_a_whole_sid() {
        let old = "S-1-5-21-1-2-3-100";
        let new = "S-1-5-21-9-9-9-1001";
        assert_eq!(
            replace_sid_text("defaultroot://{s-1-5-21-1-2-3-100}/", old, new).as_deref(),
            Some("defaultroot://{S-1-5-21-9-9-9-1001}/")
        );
        assert_eq!(replace_sid_text("S-1-5-21-1-2-3-1001", old, new), None);
        assert_eq!(
            replace_sid_text("Task-S-1-5-21-1-2-3-100", old, new).as_deref(),
            Some("Task-S-1-5-21-9-9-9-1001"),
            "a dash after a word separates (Task Scheduler's task names)"
        );
        assert_eq!(
            replace_sid_text("7-S-1-5-21-1-2-3-100", old, new),
            None,
            "a dash after a digit may continue something longer"
        );
        assert_eq!(replace_sid_text("1S-1-5-21-1-2-3-100", old, new), None);
        assert_eq!(
            replace_sid_text("S-1-5-21-1-2-3-100-MergedResources-1.pri", old, new).as_deref(),
            Some("S-1-5-21-9-9-9-1001-MergedResources-1.pri")
        );
        assert_eq!(
            replace_sid_text("S-1-5-21-1-2-3-100_Classes", old, new).as_deref(),
            Some("S-1-5-21-9-9-9-1001_Classes")
        );
    }
}
