//! UTC timestamps: written in the form JumpCloud writes them (`2026-12-04T18:50:01.123Z`),
//! read in any RFC 3339 form, so that a command result can be told to be newer than a
//! run's queueing.

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

/// Whether `a` is at or after `b`, both RFC 3339 times (`None` when either is not, so
/// callers choose what an unknown order means).
pub fn at_or_after(a: &str, b: &str) -> Option<bool> {
    Some(parse_millis(a)? >= parse_millis(b)?)
}

/// Milliseconds since 1970 of an RFC 3339 time: `YYYY-MM-DDTHH:MM:SS`, any number of
/// fraction digits (beyond milliseconds ignored), then `Z` or `±HH:MM`.
pub fn parse_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        digits.bytes().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3 = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = first3.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.as_bytes();
            if o.len() != 6 || o[3] != b':' {
                return None;
            }
            let hours = num(text.len() - 5, text.len() - 3)?;
            let minutes = num(text.len() - 2, text.len())?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 60 + minutes)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of the era-based
/// algorithm in [`rfc3339_millis`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
            Some(true)
        );
        assert_eq!(
            at_or_after("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.600Z"),
            Some(false)
        );
        // 01:30 at +02:00 is 23:30 the day before in UTC.
        assert_eq!(
            at_or_after("2026-01-01T01:30:00+02:00", "2025-12-31T23:00:00.000Z"),
            Some(true)
        );
        assert_eq!(
            at_or_after("2026-01-01T01:30:00+02:00", "2025-12-31T23:31:00Z"),
            Some(false)
        );
        assert_eq!(at_or_after("yesterday", "2026-01-01T00:00:00Z"), None);
        assert_eq!(
            at_or_after("2026-13-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            None
        );
        assert_eq!(parse_millis("2026-02-29T00:00:00Z"), None);
        assert!(parse_millis("2024-02-29T00:00:00Z").is_some());
        assert_eq!(parse_millis("2026-04-31T00:00:00Z"), None);
        assert_eq!(
            at_or_after("2026-01-01T00:00:00", "2026-01-01T00:00:00Z"),
            None
        );
        for ms in [0, 951_782_400_000, 1_796_495_401_123, 4_102_444_800_999] {
            assert_eq!(parse_millis(&rfc3339_millis(ms)), Some(ms as i64));
        }
        assert_eq!(
            parse_millis("2026-12-05T18:30:01.123456789Z"),
            Some(1_796_495_401_123)
        );
        assert!(now().starts_with("20"));
    }
}
