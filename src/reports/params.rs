//! Report parameters: the clock, the window and each report's options, bound into the SQL as
//! typed literals.
//!
//! Why literals rather than DataFusion placeholders (`$1` + `with_param_values`): table functions
//! (`range($buckets)`) and `LIMIT` are planned before placeholders are bound, and placeholder
//! types cannot always be inferred (`$cuj IS NULL`). Text values are quoted with `'` doubled, so
//! a value can never end its literal; every other value is a number, a boolean, a timestamp
//! built from an integer, or one of a fixed set of function names.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A report's time window, ending at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// No time filter.
    All,
    /// The last `n` milliseconds: `[now − n, now]`, both ends inclusive.
    Ms(i64),
}

impl FromStr for Window {
    type Err = Error;

    /// `90m`, `24h`, `7d`, `30d`, `45s`, `2w`, plain milliseconds, or `all`.
    fn from_str(s: &str) -> Result<Window> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Window::All);
        }
        parse_duration_ms(t).map(Window::Ms).ok_or_else(|| {
            Error::Usage(format!(
                "invalid window `{s}`: use e.g. 90m, 24h, 7d, 30d, plain milliseconds, or all"
            ))
        })
    }
}

/// Parses `90m`, `24h`, `7d`, `45s`, `2w`, `500ms` or plain milliseconds (positive).
pub fn parse_duration_ms(t: &str) -> Option<i64> {
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().ok()?;
    let scale = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|v| *v > 0)
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A text value (quoted).
    Text(String),
    /// A NULL of the given SQL type (e.g. `VARCHAR`).
    Null(&'static str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A UTC timestamp in epoch milliseconds.
    Ts(i64),
    /// A fixed SQL token: a function name or `NULL`.
    Token(&'static str),
}

impl Value {
    /// Text, or a VARCHAR NULL.
    pub fn opt_text(v: Option<&str>) -> Value {
        v.map_or(Value::Null("VARCHAR"), |s| Value::Text(s.to_string()))
    }

    fn to_sql(&self) -> String {
        match self {
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Null(ty) => format!("CAST(NULL AS {ty})"),
            Value::Int(v) => v.to_string(),
            Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Ts(ms) => format!("to_timestamp_millis({ms})"),
            Value::Token(t) => t.to_string(),
        }
    }
}

/// Bounds used for `--window all`: 0001-01-01 and 9999-12-31T23:59:59.999Z, the range a
/// timestamp literal can be converted to UTC in.
const FIRST_MS: i64 = -62_135_596_800_000;
const LAST_MS: i64 = 253_402_300_799_999;

/// The values a report's SQL may name as `$name`.
#[derive(Debug, Clone)]
pub struct Params {
    values: BTreeMap<&'static str, Value>,
    now_ms: i64,
    window: Window,
}

impl Params {
    /// The clock and window, with every report option at its default.
    pub fn new(now_ms: i64, window: Window) -> Params {
        let mut p = Params {
            values: BTreeMap::new(),
            now_ms,
            window,
        };
        p.set("now", Value::Ts(now_ms));
        p.set("now_ms", Value::Int(now_ms));
        p.set_bounds(None, None);
        for name in [
            "cuj", "provider", "run", "skill", "agent", "run_id", "cuj_id", "result",
        ] {
            p.set(name, Value::Null("VARCHAR"));
        }
        p.set("limit", Value::Token("NULL"));
        p.set("oldest_first", Value::Bool(false));
        p.set("by_model", Value::Bool(false));
        p.set("top", Value::Int(10));
        p.set("stall_ms", Value::Int(600_000));
        p.set("min_small", Value::Int(4));
        p.set("pct", Value::Token("percentile_disc"));
        p.set("stream", Value::Text("cuj".into()));
        p.set("by", Value::Null("VARCHAR"));
        p.set("min_events", Value::Int(30));
        p.set_trend(24, 3_600_000);
        p
    }

    /// The clock.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// One value, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Sets one value.
    pub fn set(&mut self, name: &'static str, value: Value) -> &mut Self {
        self.values.insert(name, value);
        self
    }

    /// Filter bounds: the window, narrowed by `since`/`until` (epoch ms, inclusive) when given.
    pub fn set_bounds(&mut self, since: Option<i64>, until: Option<i64>) -> &mut Self {
        let (start, end, echo_start, window_ms) = match self.window {
            Window::All => (FIRST_MS, LAST_MS, None, 0),
            Window::Ms(w) => {
                let s = self.now_ms.saturating_sub(w);
                (s, self.now_ms, Some(s), w)
            }
        };
        let start = since.map_or(start, |s| s.max(start));
        let end = until.map_or(end, |u| u.min(end));
        self.set("start", Value::Ts(start));
        self.set("end", Value::Ts(end));
        self.set("window_ms", Value::Int(window_ms));
        self.set(
            "window_start",
            echo_start.map_or(Value::Null("TIMESTAMP"), Value::Ts),
        );
        self.set("window_end", Value::Ts(self.now_ms));
        // The window before this one, `[now − 2w, now − w)` (empty for `all`), for `compare`.
        let (prev_start, prev_end) = match self.window {
            Window::All => (FIRST_MS, FIRST_MS),
            Window::Ms(w) => {
                let s = self.now_ms.saturating_sub(w);
                (s.saturating_sub(w), s - 1)
            }
        };
        self.set("prev_start", Value::Ts(prev_start));
        self.set("prev_end", Value::Ts(prev_end));
        self
    }

    /// Trending buckets: `buckets` intervals of `bucket_ms` ending at `now`.
    pub fn set_trend(&mut self, buckets: i64, bucket_ms: i64) -> &mut Self {
        self.set("buckets", Value::Int(buckets));
        self.set("bucket_ms", Value::Int(bucket_ms));
        let span = buckets.saturating_mul(bucket_ms);
        self.set("trend_start", Value::Ts(self.now_ms.saturating_sub(span)));
        self
    }

    /// Exact (nearest-rank) or approximate (t-digest) percentiles.
    pub fn set_approx(&mut self, approx: bool) -> &mut Self {
        let f = if approx {
            "approx_percentile_cont"
        } else {
            "percentile_disc"
        };
        self.set("pct", Value::Token(f))
    }

    /// `sql` with every `$name` outside string literals and comments replaced by its value.
    pub fn bind(&self, sql: &str) -> Result<String> {
        let mut out = String::with_capacity(sql.len() + 64);
        let mut chars = sql.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    out.push(c);
                    for (_, c) in chars.by_ref() {
                        out.push(c);
                        if c == '\'' {
                            break;
                        }
                    }
                }
                '-' if sql[i..].starts_with("--") => {
                    out.push(c);
                    for (_, c) in chars.by_ref() {
                        out.push(c);
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '$' => {
                    let start = i + 1;
                    let mut end = start;
                    while let Some(&(j, c)) = chars.peek() {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            end = j + c.len_utf8();
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    let name = &sql[start..end];
                    let value = self.values.get(name).ok_or_else(|| {
                        Error::Usage(format!("report SQL names an unknown parameter `${name}`"))
                    })?;
                    out.push_str(&value.to_sql());
                }
                _ => out.push(c),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse() {
        assert_eq!("90m".parse::<Window>().unwrap(), Window::Ms(5_400_000));
        assert_eq!("24h".parse::<Window>().unwrap(), Window::Ms(86_400_000));
        assert_eq!("7d".parse::<Window>().unwrap(), Window::Ms(604_800_000));
        assert_eq!("3600000".parse::<Window>().unwrap(), Window::Ms(3_600_000));
        assert_eq!("all".parse::<Window>().unwrap(), Window::All);
        for bad in ["", "0", "abc", "7x", "-5m", "1e3"] {
            assert!(bad.parse::<Window>().is_err(), "{bad}");
        }
    }

    #[test]
    fn binding_quotes_text_and_skips_literals() {
        let mut p = Params::new(1000, Window::Ms(10));
        p.set("cuj", Value::Text("it's".into()));
        let sql = p
            .bind("SELECT '$cuj', $cuj, $start -- $nope\n, $now_ms")
            .unwrap();
        assert_eq!(
            sql,
            "SELECT '$cuj', 'it''s', to_timestamp_millis(990) -- $nope\n, 1000"
        );
        assert!(p.bind("SELECT $nope").is_err());
    }
}
