//! UTC timestamps in the form JumpCloud writes them (`2026-12-04T18:50:01.123Z`), so
//! that a command result can be told to be newer than a run's queueing.

use std::time::{SystemTime, UNIX_EPOCH};

/// `millis` since 1970 as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_millis(millis: u64) -> String {
    let secs = millis / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days to a civil date (proleptic Gregorian), from the era-based algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis % 1000
    )
}

/// Now.
pub fn now() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    rfc3339_millis(ms)
}

/// Whether `a` is at or after `b`, when both are in [`rfc3339_millis`]'s form (`None`
/// when either is not, so callers choose what an unknown order means).
pub fn at_or_after(a: &str, b: &str) -> Option<bool> {
    let ok = |s: &str| s.len() == 24 && s.ends_with('Z') && s.as_bytes().get(10) == Some(&b'T');
    (ok(a) && ok(b)).then(|| a >= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_796_495_401_123),
            "2026-12-05T18:30:01.123Z"
        );
        assert_eq!(
            at_or_after("2026-01-01T00:00:00.001Z", "2026-01-01T00:00:00.000Z"),
            Some(true)
        );
        assert_eq!(
            at_or_after("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"),
            None
        );
        assert!(now().starts_with("20"));
    }
}
