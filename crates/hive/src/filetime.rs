//! FILETIME helpers: 100 ns intervals since 1601-01-01 UTC, the clock of registry keys,
//! NTFS and the SAM.

pub use crate::edit::filetime_now;
pub use crate::export::filetime_to_rfc3339;

/// A FILETIME from a UTC date and time (for tests and generators).
pub fn filetime_from_utc(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> u64 {
    // Days from 1601-01-01 via the civil-to-days algorithm (proleptic Gregorian).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * i64::from(m) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days_since_1970 = era * 146_097 + doe - 719_468;
    let days = days_since_1970 + 134_774;
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60;
    (secs.max(0) as u64) * 10_000_000
}
