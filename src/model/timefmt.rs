//! Timestamps: fast ISO-8601 parsing and formatting at millisecond precision, UTC dates.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

const MS_PER_DAY: i64 = 86_400_000;

/// Parses an ISO-8601 / RFC 3339 timestamp to UTC epoch milliseconds.
///
/// The common `YYYY-MM-DDTHH:MM:SS[.fff]Z` shape is parsed by hand (it is most of the input);
/// anything else (offsets, other fraction lengths, a space for `T`) goes through chrono.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    fast_iso_ms(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
            .ok()
            .map(|d| d.timestamp_millis())
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|d| d.and_utc().timestamp_millis())
            })
    })
}

fn fast_iso_ms(b: &[u8]) -> Option<i64> {
    if !(b.len() == 20 || b.len() == 24) || b[b.len() - 1] != b'Z' {
        return None;
    }
    let d = |i: usize| -> Option<i64> {
        let c = b[i];
        c.is_ascii_digit().then(|| (c - b'0') as i64)
    };
    let n2 = |i: usize| Some(d(i)? * 10 + d(i + 1)?);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = n2(0)? * 100 + n2(2)?;
    let (month, day) = (n2(5)?, n2(8)?);
    let (h, m, s) = (n2(11)?, n2(14)?, n2(17)?);
    let ms = if b.len() == 24 {
        if b[19] != b'.' {
            return None;
        }
        d(20)? * 100 + d(21)? * 10 + d(22)?
    } else {
        0
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || h > 23
        || m > 59
        || s > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * MS_PER_DAY + ((h * 60 + m) * 60 + s) * 1000 + ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC day (days since the epoch, Arrow's Date32) of an epoch-ms timestamp.
pub fn day_of_ms(ms: i64) -> i32 {
    ms.div_euclid(MS_PER_DAY) as i32
}

/// `YYYY-MM-DD` of a Date32 day number.
pub fn day_to_string(day: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day{day}"))
}

/// Parses `YYYY-MM-DD` to a Date32 day number.
pub fn parse_day(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(day_of_ms(
        d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis(),
    ))
}

/// `2026-11-28T09:51:50.000Z`, as JavaScript's `toISOString` prints it.
pub fn iso_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "2026-11-28T09:51:50.000Z",
            "2026-11-28T09:51:50Z",
            "2024-02-29T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            let want = DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp_millis())
                .ok();
            assert_eq!(fast_iso_ms(s.as_bytes()), want, "{s}");
            assert_eq!(parse_iso_ms(s), want, "{s}");
        }
        assert_eq!(fast_iso_ms(b"2026-02-30T00:00:00Z"), None);
        assert_eq!(
            parse_iso_ms("2026-11-28T10:51:50.5+01:00"),
            parse_iso_ms("2026-11-28T09:51:50.500Z")
        );
        assert_eq!(parse_iso_ms("yesterday"), None);
    }

    #[test]
    fn dates_round_trip() {
        let ms = parse_iso_ms("2026-11-28T09:51:50.000Z").unwrap();
        assert_eq!(day_to_string(day_of_ms(ms)), "2026-11-28");
        assert_eq!(parse_day("2026-11-28"), Some(day_of_ms(ms)));
        assert_eq!(day_to_string(day_of_ms(-1)), "1969-12-31");
        assert_eq!(iso_ms(ms), "2026-11-28T09:51:50.000Z");
    }
}
