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
                // No offset: UTC. With a space for `T` as Python's `str(datetime)` writes it.
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                    .ok()
                    .map(|d| d.and_utc().timestamp_millis())
            })
    })
}

/// The common `YYYY-MM-DDTHH:MM:SS[.fff]Z` shape, by hand; `None` for anything else.
///
/// The text is copied into a fixed-size array, so that every index below is a constant (no
/// bounds checks). The time's digits are tested eight and four at once ([`swar_digits`]); the
/// date's (read once per date and thread) each, folded into one flag: a fallible closure per
/// digit, not inlined, was ~320 instructions per event line (callgrind), 2.6 % of ingest's.
fn fast_iso_ms(b: &[u8]) -> Option<i64> {
    let mut t = [0u8; 24];
    match b.len() {
        24 if b[19] == b'.' => t.copy_from_slice(b),
        // No fraction: `.000` in its place.
        20 if b[19] == b'Z' => {
            t[..19].copy_from_slice(&b[..19]);
            t[19..].copy_from_slice(b".000Z");
        }
        _ => return None,
    }
    if t[4] != b'-' || t[7] != b'-' || t[10] != b'T' || t[23] != b'Z' {
        return None;
    }
    let bad = std::cell::Cell::new(false);
    let n = |places: &[usize]| {
        places.iter().fold(0i64, |acc, &i| {
            let v = t[i].wrapping_sub(b'0');
            bad.set(bad.get() | (v > 9));
            acc * 10 + v as i64
        })
    };
    // The date's midnight, from the last timestamp on this thread when it named the same date
    // (lines come in runs of one day): its digits, month and day were checked then. Reading the
    // date and `days_from_civil` were a third of this function's instructions (227 → 152 per
    // line on the tools shape, callgrind).
    let date = (
        u64::from_le_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]),
        u16::from_le_bytes([t[8], t[9]]),
    );
    let midnight = match LAST_DATE.get() {
        (last, ms) if last == date => ms,
        _ => {
            let year = n(&[0, 1, 2, 3]);
            let (month, day) = (n(&[5, 6]), n(&[8, 9]));
            if bad.get()
                || !(1..=12).contains(&month)
                || day < 1
                || day > days_in_month(year, month)
            {
                return None;
            }
            let ms = days_from_civil(year, month, day) * MS_PER_DAY;
            LAST_DATE.set((date, ms));
            ms
        }
    };
    // `HH:MM:SS` and `.fff`, eight and four bytes at once.
    let hms = u64::from_le_bytes([t[11], t[12], t[13], t[14], t[15], t[16], t[17], t[18]]);
    let hms = swar_digits(hms, HMS_ZERO, HMS_LIMIT)?;
    let fraction = u64::from_le_bytes([t[19], t[20], t[21], t[22], 0, 0, 0, 0]);
    let fraction = swar_digits(fraction, FRACTION_ZERO, FRACTION_LIMIT)?;
    let digit = |w: u64, k: u32| (w >> (8 * k) & 0xff) as i64;
    let (h, m, s) = (
        digit(hms, 0) * 10 + digit(hms, 1),
        digit(hms, 3) * 10 + digit(hms, 4),
        digit(hms, 6) * 10 + digit(hms, 7),
    );
    let ms = digit(fraction, 1) * 100 + digit(fraction, 2) * 10 + digit(fraction, 3);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(midnight + ((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// `HH:MM:SS` at zero, as [`swar_digits`] reads eight bytes.
const HMS_ZERO: u64 = u64::from_le_bytes(*b"00:00:00");
/// The limits of `HH:MM:SS` for [`swar_digits`]: a digit's place, then a separator's.
const HMS_LIMIT: u64 = u64::from_le_bytes([0x76, 0x76, 0x7f, 0x76, 0x76, 0x7f, 0x76, 0x76]);
/// `.fff` at zero and four zero bytes.
const FRACTION_ZERO: u64 = u64::from_le_bytes(*b".000\0\0\0\0");
/// The limits of `.fff` and four zero bytes for [`swar_digits`].
const FRACTION_LIMIT: u64 = u64::from_le_bytes([0x7f, 0x76, 0x76, 0x76, 0x7f, 0x7f, 0x7f, 0x7f]);

/// The eight bytes of `w` (little-endian) with each digit's value in its byte and 0 in every
/// other byte, if `w` is `zero` with digits in the places where `zero` holds `0`; `None`
/// otherwise. `limit` holds 0x76 at a digit's place and 0x7f at any other.
///
/// XORed with `zero`, a digit becomes 0–9 and anything else at a digit's place 10 or more; a
/// separator (or zero byte) becomes 0 and anything else 1 or more. Adding `limit` then sets a
/// byte's high bit exactly when it is out of range, in all eight bytes at once: no byte carries
/// into the next unless its own high bit was set already, which fails it anyway. Against a
/// test of each digit on its own: 24 fewer instructions per line (callgrind, tools shape).
#[inline(always)]
fn swar_digits(w: u64, zero: u64, limit: u64) -> Option<u64> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let d = w ^ zero;
    ((d | d.wrapping_add(limit)) & HIGH == 0).then_some(d)
}

thread_local! {
    /// The date bytes (`YYYY-MM-DD`) of the last valid timestamp [`fast_iso_ms`] read on this
    /// thread, and its midnight in epoch ms. No text has all-zero date bytes (`-` is at 4).
    static LAST_DATE: std::cell::Cell<((u64, u16), i64)> =
        const { std::cell::Cell::new(((0, 0), 0)) };
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
    // The zero-padded shape every partition has, by hand (chrono's parser reads its format
    // string again for each of a query's files: 5,837 of them in a 365-day store); chrono for
    // anything it does not take.
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *s.as_bytes() {
        let mut t = *b"0000-00-00T00:00:00Z";
        t[..4].copy_from_slice(&[y0, y1, y2, y3]);
        t[5..7].copy_from_slice(&[m0, m1]);
        t[8..10].copy_from_slice(&[d0, d1]);
        if let Some(ms) = fast_iso_ms(&t) {
            return Some(day_of_ms(ms));
        }
    }
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

    /// chrono's reading of `s` (None when it is not UTF-8 or not RFC 3339).
    fn chrono_ms(s: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(s).ok()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|d| d.timestamp_millis())
    }

    /// Every byte at every place of the time (`HH:MM:SS.fff`, read eight and four bytes at once):
    /// what the fast path reads, chrono reads the same; a digit that leaves a valid time it reads
    /// (a 60th second, which chrono takes for a leap second, it leaves to chrono). And a sweep of
    /// the day's times.
    #[test]
    fn every_byte_at_every_place_of_the_time() {
        let good = *b"2026-11-28T09:51:50.123Z";
        let mut read = 0;
        for i in 11..23 {
            for c in 0..=255u8 {
                let mut s = good;
                s[i] = c;
                let (got, want) = (fast_iso_ms(&s), chrono_ms(&s));
                let text = String::from_utf8_lossy(&s);
                if got.is_some() {
                    assert_eq!(got, want, "{text}");
                    read += 1;
                }
                let leap = &s[17..19] == b"60";
                if c.is_ascii_digit() && want.is_some() && !leap {
                    assert!(got.is_some(), "{text}");
                }
            }
        }
        // The bytes that leave a valid time, place by place: hours `09` `19`; 10; `:`; minutes
        // `01` to `51`; 10; `:`; seconds `00` to `50`; 10; `.`; 10 × 3.
        assert_eq!(read, 2 + 10 + 1 + 6 + 10 + 1 + 6 + 10 + 1 + 30);
        for h in 0..24 {
            for m in (0..60).step_by(7) {
                for sec in (0..60).step_by(13) {
                    for ms in [0, 7, 99, 500, 999] {
                        let text = format!("2026-11-28T{h:02}:{m:02}:{sec:02}.{ms:03}Z");
                        let got = fast_iso_ms(text.as_bytes());
                        assert!(got.is_some(), "{text}");
                        assert_eq!(got, chrono_ms(text.as_bytes()), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "2026-11-28T09:51:50.000Z",
            "2026-11-28T09:51:50Z",
            "2024-02-29T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            // The date memo: a valid date, then an invalid time on it, other dates between.
            "2026-11-28T09:51:50.123Z",
            "2026-11-28T24:00:00.000Z",
            "2026-11-29T00:00:00.000Z",
            "2026-11-28T23:59:59.999Z",
            "2026-02-30T00:00:00.000Z",
            "2026-02-30T00:00:01.000Z",
            "2024-02-29T12:00:00.000Z",
            "2024-02-29T12:00:00.00xZ",
        ] {
            let want = DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp_millis())
                .ok();
            assert_eq!(fast_iso_ms(s.as_bytes()), want, "{s}");
            assert_eq!(parse_iso_ms(s), want, "{s}");
        }
        assert_eq!(fast_iso_ms(b"2026-02-30T00:00:00Z"), None);
        // Every place of the layout: a non-digit, a wrong separator, a missing `Z`.
        let good = b"2026-11-28T09:51:50.123Z";
        for i in 0..good.len() {
            for c in [b'x', b'/', b' ', b'0' - 1, b'9' + 1] {
                let mut s = *good;
                s[i] = c;
                let text = std::str::from_utf8(&s).unwrap();
                let want = DateTime::parse_from_rfc3339(text)
                    .map(|d| d.timestamp_millis())
                    .ok();
                let got = fast_iso_ms(&s);
                assert!(got.is_none() || got == want, "{text}: {got:?} vs {want:?}");
            }
        }
        assert_eq!(fast_iso_ms(b"2026-11-28T09:51:50.12Z"), None);
        assert_eq!(fast_iso_ms(b"2026-11-28T09:51:50,123Z"), None);
        assert_eq!(fast_iso_ms(b"2026-11-28T09:51:50Zxxxx"), None);
        assert_eq!(
            parse_iso_ms("2026-11-28T10:51:50.5+01:00"),
            parse_iso_ms("2026-11-28T09:51:50.500Z")
        );
        assert_eq!(parse_iso_ms("yesterday"), None);
        // A space for `T`, with or without an offset (none is UTC): Python's `str(datetime)`.
        let want = parse_iso_ms("2026-11-28T09:51:50.123Z");
        for s in [
            "2026-11-28 09:51:50.123000",
            "2026-11-28 09:51:50.123Z",
            "2026-11-28 09:51:50.123000+00:00",
            "2026-11-28 10:51:50.123+01:00",
            "2026-11-28T09:51:50.123",
        ] {
            assert_eq!(parse_iso_ms(s), want, "{s}");
        }
        assert_eq!(parse_iso_ms("2026-11-28 09:51"), None);
    }

    #[test]
    fn dates_round_trip() {
        let ms = parse_iso_ms("2026-11-28T09:51:50.000Z").unwrap();
        assert_eq!(day_to_string(day_of_ms(ms)), "2026-11-28");
        assert_eq!(parse_day("2026-11-28"), Some(day_of_ms(ms)));
        assert_eq!(day_to_string(day_of_ms(-1)), "1969-12-31");
        assert_eq!(iso_ms(ms), "2026-11-28T09:51:50.000Z");
    }

    /// The hand-written `YYYY-MM-DD` path gives chrono's answer: on every day of 1900-2100 and
    /// on day-shaped text that is no date.
    #[test]
    fn days_parse_as_chrono_parses_them() {
        let chrono_day = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.signed_duration_since(NaiveDate::default()).num_days() as i32)
        };
        let first = days_from_civil(1900, 1, 1) as i32;
        for day in first..first + 200 * 366 {
            let s = day_to_string(day);
            assert_eq!(parse_day(&s), Some(day), "{s}");
            assert_eq!(chrono_day(&s), Some(day), "{s}");
        }
        for s in [
            "2026-02-29",
            "2024-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-11-00",
            "2026-11-31",
            "2026-1a-01",
            "+202-01-01",
            "2026/11/28",
            "2026-11-2",
            "2026-1-28",
            "02026-11-28",
            "",
            "2026-11-28 ",
        ] {
            assert_eq!(parse_day(s), chrono_day(s), "{s:?}");
        }
    }
}
