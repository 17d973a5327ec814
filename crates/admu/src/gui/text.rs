//! How values read: the same wording as `admu list` and `admu info`.

use engine::profiles::{Profile, ProfileKind, ProfileState};

/// A profile's states, as `admu list` writes them.
pub fn states(states: &[ProfileState]) -> String {
    states
        .iter()
        .map(|s| match s {
            ProfileState::Ok => "ok",
            ProfileState::MissingFolder => "missing folder",
            ProfileState::MissingHive => "missing hive",
            ProfileState::Temp => "TEMP",
            ProfileState::Bak => ".bak",
            ProfileState::Migrated => "migrated",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A FILETIME as `YYYY-MM-DD HH:MM` (UTC), `-` when unknown.
pub fn date(ft: Option<u64>) -> String {
    ft.map(|t| {
        let full = hive::export::filetime_to_rfc3339(t);
        full.get(..16).unwrap_or(&full).replace('T', " ")
    })
    .unwrap_or_else(|| "-".into())
}

/// Bytes in binary units.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn kind(kind: ProfileKind) -> &'static str {
    match kind {
        ProfileKind::Local => "local",
        ProfileKind::Domain => "domain",
        ProfileKind::Entra => "entra",
        ProfileKind::Service => "service",
        ProfileKind::Other => "other",
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// "yes (DOMAIN\user (1))", "no", or "-" offline, where nothing is loaded.
pub fn loaded(p: &Profile) -> String {
    match (p.loaded, &p.signed_in) {
        (None, _) => "-".into(),
        (Some(l), Some(s)) if !s.is_empty() => {
            format!("{}, signed in: {}", yes_no(l), s.join(", "))
        }
        (Some(l), _) => yes_no(l).into(),
    }
}

/// Lower-cases for a case-insensitive filter.
pub fn matches(haystack: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || haystack.to_lowercase().contains(needle_lower)
}
