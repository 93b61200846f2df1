//! Normalization: one JSONL line of a stream → a validated, sanitized [`Normalized`] record, or a
//! [`ParseError`] that says why the line goes to quarantine.
//!
//! Accepts the original tools' records exactly as they wrote them (ISO or epoch-ms `timestamp`,
//! `iso_timestamp`, `params` as JSON text or object, absent optional keys, `type`) and obsq's own.

use std::borrow::Cow;

use super::flex::{Fields, Flex, NotObject, parse_object};
use super::sanitize::{
    Memo, REDACTED, is_secret_key, memoized_into, sanitize_json, sanitize_json_as, sanitize_text,
};
use super::schema::{Col, Stream};
use super::timefmt::parse_iso_ms;

/// Lines longer than this are quarantined instead of parsed (a monitoring event is far smaller).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A normalized event: typed, defaulted and sanitized, borrowing from the input line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Normalized<'a> {
    /// Event time, UTC epoch milliseconds.
    pub ts: i64,
    /// Skill name (skill stream).
    pub skill: Option<Cow<'a, str>>,
    /// Agent (skill stream).
    pub agent: Option<Cow<'a, str>>,
    /// Result text (skill stream).
    pub result: Option<Cow<'a, str>>,
    /// Workflow run id (skill and progress streams).
    pub run_id: Option<Cow<'a, str>>,
    /// CUJ id (skill and CUJ streams).
    pub cuj_id: Option<Cow<'a, str>>,
    /// Parameters as canonical JSON text (skill stream), unless they are in `params_buf`: read
    /// them with [`Normalized::params`].
    pub params: Option<Cow<'a, str>>,
    /// The parameters when they came from the per-thread cache of JSON text in strings (the
    /// original logger's `params`), copied into a buffer that a decoder keeps from line to
    /// line: a cache hit allocated a `String` per line and freed it once the row was built.
    pub params_buf: String,
    /// Whether the parameters are in `params_buf`.
    pub params_in_buf: bool,
    /// Duration in ms (skill and CUJ streams).
    pub duration_ms: Option<f64>,
    /// Cache hit (skill stream).
    pub cache_hit: Option<bool>,
    /// Success (CUJ and provider streams).
    pub success: Option<bool>,
    /// Error text, sanitized.
    pub error: Option<Cow<'a, str>>,
    /// Step number (progress stream).
    pub step: Option<i64>,
    /// Status (progress stream).
    pub status: Option<Cow<'a, str>>,
    /// Percentage (progress stream).
    pub percentage: Option<f64>,
    /// Message, sanitized (progress stream).
    pub message: Option<Cow<'a, str>>,
    /// Provider, lower case (provider stream).
    pub provider: Option<Cow<'a, str>>,
    /// Model (provider stream).
    pub model: Option<Cow<'a, str>>,
    /// Latency in ms (provider stream).
    pub latency_ms: Option<f64>,
    /// Metadata as canonical JSON text, sanitized; `{}` when absent.
    pub metadata: Cow<'a, str>,
    /// Unknown top-level fields as a JSON object text, sanitized.
    pub extra: Option<String>,
    /// Names and JSON types of the unknown fields (for schema-drift tracking).
    pub unknown: Vec<(Cow<'a, str>, &'static str)>,
    /// Optional fields whose value had a type the column cannot hold: (field, JSON type). The
    /// column is null (or its default) and the value is kept in `extra`.
    pub mismatched: Vec<(&'static str, &'static str)>,
}

impl Normalized<'_> {
    /// Empties every field for the next line, as `Normalized::default()` would, but in place:
    /// the buffers (`params_buf`, `unknown`, `mismatched`) keep their memory from line to line,
    /// and no 500-byte default is built and copied over the old value per line.
    fn reset(&mut self) {
        // Destructured, so that a field added to the struct must be named here.
        let Normalized {
            ts,
            skill,
            agent,
            result,
            run_id,
            cuj_id,
            params,
            params_buf,
            params_in_buf,
            duration_ms,
            cache_hit,
            success,
            error,
            step,
            status,
            percentage,
            message,
            provider,
            model,
            latency_ms,
            metadata,
            extra,
            unknown,
            mismatched,
        } = self;
        *ts = 0;
        for text in [
            skill, agent, result, run_id, cuj_id, params, error, status, message, provider, model,
        ] {
            *text = None;
        }
        params_buf.clear();
        *params_in_buf = false;
        for x in [duration_ms, percentage, latency_ms] {
            *x = None;
        }
        *cache_hit = None;
        *success = None;
        *step = None;
        *metadata = Cow::Borrowed("");
        *extra = None;
        unknown.clear();
        mismatched.clear();
    }

    /// The parameters as canonical JSON text (skill stream).
    pub fn params(&self) -> Option<&str> {
        if self.params_in_buf {
            Some(&self.params_buf)
        } else {
            self.params.as_deref()
        }
    }
}

/// Why a line cannot be stored; the text is the quarantine reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not UTF-8.
    #[error("line is not valid UTF-8 (first bad byte at column {0})")]
    NotUtf8(usize),
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("line is {0} bytes, over the {MAX_LINE_BYTES}-byte limit for one event")]
    TooLong(usize),
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON but not an object.
    #[error("a JSON {0}, not an object: each line must be one event object")]
    NotObject(&'static str),
    /// No timestamp could be read.
    #[error("{0}")]
    Timestamp(String),
    /// A required field is absent, null or empty.
    #[error("required field `{0}` is missing or empty")]
    Missing(&'static str),
    /// A field's value cannot be converted to the column type.
    #[error("field `{field}` must be {expected}, got {got}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// What was there (type and a short excerpt).
        got: String,
    },
}

/// Parses and normalizes one line (without its trailing newline) of `stream`.
pub fn parse_line(stream: Stream, bytes: &[u8]) -> Result<Normalized<'_>, ParseError> {
    if bytes.len() > MAX_LINE_BYTES {
        return Err(ParseError::TooLong(bytes.len()));
    }
    let line = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8(e.valid_up_to() + 1))?;
    parse_str(stream, line)
}

/// [`parse_line`] of a line already known to be UTF-8 (a block validated at once).
pub fn parse_str(stream: Stream, line: &str) -> Result<Normalized<'_>, ParseError> {
    let mut n = Normalized::default();
    parse_str_into(stream, line, &mut n)?;
    Ok(n)
}

/// [`parse_str`] into `n` (whatever it held is replaced; after an error its content means
/// nothing): a decoder reuses one record for all its lines, where returning the ~600-byte
/// record by value copied it per line (perf).
pub fn parse_str_into<'a>(
    stream: Stream,
    line: &'a str,
    n: &mut Normalized<'a>,
) -> Result<(), ParseError> {
    parse_str_reusing(stream, line, n, &mut Fields::new())
}

/// [`parse_str_into`] with `fields` as the line's field list (whatever it held is replaced): a
/// decoder keeps one for all its lines, where a new list per line wrote its 16 empty slots
/// (0.7 % of ingesting the tools shape, callgrind).
pub fn parse_str_reusing<'a>(
    stream: Stream,
    line: &'a str,
    n: &mut Normalized<'a>,
    fields: &mut Fields<'a>,
) -> Result<(), ParseError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(ParseError::TooLong(line.len()));
    }
    let line = line.strip_suffix('\r').unwrap_or(line);
    // A byte-order mark (Windows tools write one at the start of a file; `cat` of such files
    // puts one at a line's start) is no part of the event.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    parse_object(line, fields).map_err(|e| match e {
        NotObject::Syntax(m) => ParseError::NotJson(m),
        NotObject::Kind(k) => ParseError::NotObject(k),
    })?;
    normalize(stream, fields, n)
}

/// Keys that are not columns but are understood.
#[derive(Clone, Copy)]
enum Known {
    Ts(u8),
    TypeTag,
    Field(Col),
}

/// The keys a stream understands, looked up by length and first sixteen bytes (one probe, two
/// word compares, no `memcmp` call): a `match` on the key string called `memcmp` for several
/// candidates per key, 12 keys per line (about 5 % of ingest CPU in perf). One table per stream,
/// so that no per-key check of the stream's columns follows (8 % of `normalize` in perf).
struct KeyTable {
    slots: [Option<(KeyWords, Known)>; 64],
}

/// A key of up to 16 bytes as two little-endian words and its length.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyWords(u64, u64, usize);

impl KeyWords {
    /// The key's words; `None` when it is longer than 16 bytes.
    // Inlined: returned through memory, the words stalled the sanitizer's key check on store
    // forwarding (12 % of `sanitize_json`'s samples on Python's `json.dumps` objects, perf).
    #[inline]
    pub(crate) fn of(key: &[u8]) -> Option<KeyWords> {
        // Overlapping loads of the key's own bytes: copying it into a zeroed buffer and reading
        // that back as words stalled on store forwarding (a third of `normalize` in perf).
        let n = key.len();
        let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().unwrap_or_default());
        let half = |at: usize| u32::from_le_bytes(key[at..at + 4].try_into().unwrap_or_default());
        let (a, b) = match n {
            0 => (0, 0),
            1..4 => {
                let (x, y, z) = (key[0] as u64, key[n / 2] as u64, key[n - 1] as u64);
                (x | y << (8 * (n / 2)) | z << (8 * (n - 1)), 0)
            }
            4..8 => (half(0) as u64 | (half(n - 4) as u64) << (8 * (n - 4)), 0),
            8 => (word(0), 0),
            9..=16 => (word(0), word(n - 8) >> (8 * (16 - n))),
            _ => return None,
        };
        Some(KeyWords(a, b, n))
    }

    /// A hash of the key, in 0..64.
    pub(crate) fn slot(self) -> usize {
        ((self.0 ^ self.1.rotate_left(7) ^ self.2 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
            as usize
    }
}

impl KeyTable {
    fn of(stream: Stream) -> &'static KeyTable {
        static TABLES: std::sync::OnceLock<[KeyTable; 4]> = std::sync::OnceLock::new();
        &TABLES.get_or_init(|| Stream::ALL.map(KeyTable::build))[stream as usize]
    }

    fn build(stream: Stream) -> KeyTable {
        let mut keys: Vec<(&'static str, Known)> = vec![
            ("timestamp", Known::Ts(0)),
            ("ts", Known::Ts(1)),
            ("iso_timestamp", Known::Ts(2)),
            ("metadata", Known::Field(Col::Metadata)),
        ];
        if stream == Stream::Skill {
            keys.push(("type", Known::TypeTag));
        }
        for &col in stream.columns() {
            let derived = matches!(
                col,
                Col::Ts | Col::EventId | Col::ErrorPattern | Col::Extra | Col::Metadata
            );
            if !derived {
                keys.push((col.name(), Known::Field(col)));
            }
        }
        let mut table = KeyTable { slots: [None; 64] };
        for (k, v) in keys {
            let words = KeyWords::of(k.as_bytes()).expect("column names are short");
            let mut i = words.slot();
            while table.slots[i].is_some() {
                i = (i + 1) % 64;
            }
            table.slots[i] = Some((words, v));
        }
        table
    }

    /// What `key` is to the stream, if the stream knows it. Inlined into both of
    /// [`normalize`]'s loops: called out of line, 12 times a line, it was 5.7 % of the
    /// instructions of ingesting the tools shape, and inlined 0.5 % fewer in all (callgrind).
    #[inline(always)]
    fn find(&self, key: &str) -> Option<Known> {
        let words = KeyWords::of(key.as_bytes())?;
        let mut i = words.slot();
        loop {
            let (k, v) = self.slots[i]?;
            if k == words {
                return Some(v);
            }
            i = (i + 1) % 64;
        }
    }
}

/// A top-level key as the normalizer meets it: one of the [`Fields::plain`] keys borrowed from
/// the line (nearly always), or one of the [`Fields::other`] ones. [`LineFields::field`] is inlined into a loop over each kind, so
/// that the kind is known there and no `Cow` is built per key.
#[derive(Clone, Copy)]
enum FieldKey<'k, 'a> {
    Plain(&'a str),
    Other(&'k Cow<'a, str>),
}

impl<'a> FieldKey<'_, 'a> {
    #[inline(always)]
    fn as_str(&self) -> &str {
        match self {
            FieldKey::Plain(k) => k,
            FieldKey::Other(k) => k,
        }
    }

    #[inline(always)]
    fn to_cow(self) -> Cow<'a, str> {
        match self {
            FieldKey::Plain(k) => Cow::Borrowed(k),
            FieldKey::Other(k) => k.clone(),
        }
    }
}

/// What [`normalize`] gathers from a line's fields besides the columns it sets on the way.
struct LineFields<'a> {
    stream: Stream,
    keys: &'static KeyTable,
    ts_candidates: [Option<Flex<'a>>; 3],
    ts_plain: Option<i64>,
    extra: Vec<(Cow<'a, str>, &'a str)>,
    metadata: Option<Flex<'a>>,
}

impl<'a> LineFields<'a> {
    /// Takes one field of the line into `n` (or into what the line gathers).
    #[inline(always)]
    fn field(
        &mut self,
        n: &mut Normalized<'a>,
        key: FieldKey<'_, 'a>,
        value: &'a str,
        loose: bool,
    ) -> Result<(), ParseError> {
        let known = self.keys.find(key.as_str());
        if let Some(Known::Field(Col::Params)) = known
            && value.starts_with('"')
        {
            // JSON text in a string, as the original logger wrote `params`: the same few texts
            // on most lines, cached by their escaped form (no unescaping on a hit).
            n.params = None;
            n.params_buf.clear();
            memoized_into(
                Memo::JsonInString,
                value,
                json_in_literal,
                &mut n.params_buf,
            );
            n.params_in_buf = true;
            return Ok(());
        }
        if let Some(Known::Field(col)) = known
            && set_plain(n, col, value, loose)
        {
            return Ok(());
        }
        if let Some(Known::Ts(0)) = known {
            // `timestamp` comes first of the three keys: an ISO time it holds without escapes
            // is the event's time, read here without the `Flex` that `timestamp` takes.
            self.ts_plain = plain_iso_ms(value, loose);
            if self.ts_plain.is_some() {
                self.ts_candidates[0] = None;
                return Ok(());
            }
        }
        let flex = Flex::from_scanned(value, loose);
        match known {
            Some(Known::Ts(i)) => self.ts_candidates[i as usize] = Some(flex),
            Some(Known::TypeTag) => {
                if !matches!(&flex, Flex::Str(s) if s == "skill_invocation") {
                    self.extra.push((key.to_cow(), value));
                }
            }
            Some(Known::Field(Col::Metadata)) => self.metadata = Some(flex),
            Some(Known::Field(col)) => {
                if let Err(e) = set_field(n, col, flex) {
                    // Keep the event, flag the oddity: only the fields that identify an event
                    // must convert; any other keeps its value in `extra`.
                    if is_required(self.stream, col) {
                        return Err(e);
                    }
                    n.mismatched
                        .push((col.name(), super::flex::json_kind(value)));
                    self.extra.push((key.to_cow(), value));
                }
            }
            None => self.extra.push((key.to_cow(), value)),
        }
        Ok(())
    }
}

fn normalize<'a>(
    stream: Stream,
    fields: &Fields<'a>,
    n: &mut Normalized<'a>,
) -> Result<(), ParseError> {
    n.reset();
    let mut line = LineFields {
        stream,
        // Looked up once per line: its `OnceLock` check was in the loop, once per key.
        keys: KeyTable::of(stream),
        ts_candidates: [None, None, None],
        ts_plain: None,
        extra: Vec::new(),
        metadata: None,
    };
    for (key, value, loose) in fields.plain() {
        line.field(n, FieldKey::Plain(key), value, loose)?;
    }
    for (key, value) in fields.other() {
        line.field(n, FieldKey::Other(key), value, true)?;
    }
    let LineFields {
        ts_candidates,
        ts_plain,
        extra,
        metadata,
        ..
    } = line;
    n.ts = match ts_plain {
        Some(ms) => ms,
        None => timestamp(ts_candidates)?,
    };
    n.metadata = match metadata {
        None | Some(Flex::Null) => Cow::Borrowed("{}"),
        Some(f) => json_text("metadata", f)?,
    };
    if stream == Stream::Provider && n.model.is_none() {
        n.model = model_in_metadata(&n.metadata);
    }
    if !extra.is_empty() {
        n.unknown = extra
            .iter()
            .filter(|(k, _)| !n.mismatched.iter().any(|(m, _)| m == k))
            .map(|(k, v)| (k.clone(), super::flex::json_kind(v)))
            .collect();
        n.extra = Some(extra_object(&extra));
    }
    apply_defaults(stream, n)?;
    Ok(())
}

/// The original provider-health tool had no model field; callers put it in `metadata.model`.
fn model_in_metadata<'a>(metadata: &str) -> Option<Cow<'a, str>> {
    if !metadata.contains("\"model\"") {
        return None;
    }
    let m: serde_json::Map<String, serde_json::Value> = serde_json::from_str(metadata).ok()?;
    let model = m.get("model")?.as_str()?;
    (!model.is_empty()).then(|| Cow::Owned(model.to_string()))
}

fn set_field<'a>(n: &mut Normalized<'a>, col: Col, v: Flex<'a>) -> Result<(), ParseError> {
    let name = col.name();
    if let Some(slot) = name_slot(n, col) {
        *slot = text(name, v)?.and_then(|s| kept_name(col, s));
        return Ok(());
    }
    match col {
        Col::Skill
        | Col::Agent
        | Col::Result
        | Col::RunId
        | Col::CujId
        | Col::Status
        | Col::Model => {} // set above, through `name_slot`
        Col::Provider => n.provider = text(name, v)?.map(|p| lower(p)),
        Col::Message => n.message = text(name, v)?.map(sanitized),
        Col::Error => n.error = error_text(v)?,
        Col::Params => {
            n.params_in_buf = false;
            n.params = match v {
                Flex::Null => None,
                f => Some(json_text(name, f)?),
            }
        }
        Col::DurationMs => n.duration_ms = number(name, v)?,
        Col::LatencyMs => n.latency_ms = number(name, v)?,
        Col::Percentage => n.percentage = number(name, v)?,
        Col::Step => n.step = integer(name, v)?,
        Col::CacheHit => n.cache_hit = boolean(name, v)?,
        Col::Success => n.success = boolean(name, v)?,
        Col::Ts | Col::ErrorPattern | Col::EventId | Col::Metadata | Col::Extra => {}
    }
    Ok(())
}

/// Sets column `col` of `n` from the raw JSON `value` when it is of the kind the column holds
/// as it stands: a string without escapes for a name or id, a number for a measure, a boolean
/// for a flag, null for the error. False (nothing set): [`set_field`] converts it. Done here,
/// without the [`Flex`] that `set_field` takes, whose 16-byte copies through the stack stalled
/// on store forwarding (with `text`, ~2 % of ingest CPU on the tools shape, perf).
#[inline(always)]
fn set_plain<'a>(n: &mut Normalized<'a>, col: Col, value: &'a str, loose: bool) -> bool {
    match (col, value.as_bytes().first()) {
        (_, Some(b'"')) if !loose => match name_slot(n, col) {
            Some(slot) => {
                *slot = kept_name(col, Cow::Borrowed(&value[1..value.len() - 1]));
                true
            }
            None => false,
        },
        (Col::DurationMs | Col::LatencyMs | Col::Percentage, Some(b'-' | b'0'..=b'9')) => {
            // As `Flex::from_raw` reads a number; a non-finite one is `set_field`'s error.
            match super::flex::number(value) {
                x if x.is_finite() => {
                    let slot = match col {
                        Col::DurationMs => &mut n.duration_ms,
                        Col::LatencyMs => &mut n.latency_ms,
                        _ => &mut n.percentage,
                    };
                    *slot = Some(x);
                    true
                }
                _ => false,
            }
        }
        (Col::CacheHit | Col::Success, Some(&c @ (b't' | b'f'))) => {
            let slot = match col {
                Col::CacheHit => &mut n.cache_hit,
                _ => &mut n.success,
            };
            *slot = Some(c == b't');
            true
        }
        (Col::Error, Some(b'n')) => {
            n.error = None;
            true
        }
        _ => false,
    }
}

/// The field of `n` that holds the name or id column `col` (its text stored as given, see
/// [`kept_name`]); `None` for the other columns.
fn name_slot<'n, 'a>(n: &'n mut Normalized<'a>, col: Col) -> Option<&'n mut Option<Cow<'a, str>>> {
    Some(match col {
        Col::Skill => &mut n.skill,
        Col::Agent => &mut n.agent,
        Col::Result => &mut n.result,
        Col::RunId => &mut n.run_id,
        Col::CujId => &mut n.cuj_id,
        Col::Status => &mut n.status,
        Col::Model => &mut n.model,
        _ => return None,
    })
}

/// The value a name or id column ([`name_slot`]) keeps of text `s`: an empty run or CUJ id is
/// none.
fn kept_name(col: Col, s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    (!(s.is_empty() && matches!(col, Col::RunId | Col::CujId))).then_some(s)
}

/// The fields whose value must convert, or the line is quarantined: the stream's key and the
/// `success` flag of CUJ runs and provider calls.
fn is_required(stream: Stream, col: Col) -> bool {
    stream.key_col() == Some(col)
        || (col == Col::Success && matches!(stream, Stream::Cuj | Stream::Provider))
}

fn apply_defaults(stream: Stream, n: &mut Normalized<'_>) -> Result<(), ParseError> {
    let kept = |n: &Normalized<'_>, col: Col| n.mismatched.iter().any(|(m, _)| *m == col.name());
    let required = |v: &Option<Cow<str>>, name| match v {
        Some(s) if !s.is_empty() => Ok(()),
        _ => Err(ParseError::Missing(name)),
    };
    match stream {
        Stream::Skill => {
            required(&n.skill, "skill")?;
            n.agent.get_or_insert(Cow::Borrowed("unknown"));
            n.result.get_or_insert(Cow::Borrowed("unknown"));
            if !n.params_in_buf {
                n.params.get_or_insert(Cow::Borrowed("{}"));
            }
            // A value that did not convert is null (it is in `extra`); an absent one defaults.
            if !kept(n, Col::DurationMs) {
                n.duration_ms.get_or_insert(0.0);
            }
            if !kept(n, Col::CacheHit) {
                n.cache_hit.get_or_insert(false);
            }
        }
        Stream::Cuj => {
            required(&n.cuj_id, "cuj_id")?;
            n.success.ok_or(ParseError::Missing("success"))?;
        }
        Stream::Progress => {
            n.status.get_or_insert(Cow::Borrowed("running"));
            if !kept(n, Col::Percentage) {
                n.percentage.get_or_insert(0.0);
            }
            n.message.get_or_insert(Cow::Borrowed(""));
        }
        Stream::Provider => {
            required(&n.provider, "provider")?;
            n.success.ok_or(ParseError::Missing("success"))?;
        }
    }
    Ok(())
}

/// The milliseconds of `value`, a raw JSON value, when it is a string without escapes that
/// [`timestamp`] would take as an ISO-8601 time; `None` sends it through [`timestamp`].
#[inline]
fn plain_iso_ms(value: &str, loose: bool) -> Option<i64> {
    if loose || !value.starts_with('"') {
        return None;
    }
    parse_iso_ms(&value[1..value.len() - 1]).filter(|ms| TIME_RANGE.contains(ms))
}

/// The times an event may have, in epoch milliseconds: the years 1900 to 9999.
const TIME_RANGE: std::ops::Range<i64> = -2_208_988_800_000..253_402_300_800_000;

fn timestamp(candidates: [Option<Flex<'_>>; 3]) -> Result<i64, ParseError> {
    let mut seen = None;
    for c in candidates.into_iter().flatten() {
        let ms = match &c {
            Flex::Num(v, t) => t
                .parse::<i64>()
                .ok()
                .map(epoch_ms)
                .or_else(|| epoch_ms_f64(*v)),
            Flex::Str(s) => parse_iso_ms(s)
                .or_else(|| s.parse::<i64>().ok().map(epoch_ms))
                .or_else(|| s.parse::<f64>().ok().and_then(epoch_ms_f64)),
            _ => None,
        };
        if let Some(ms) = ms.filter(|ms| TIME_RANGE.contains(ms)) {
            return Ok(ms);
        }
        seen.get_or_insert(c);
    }
    Err(ParseError::Timestamp(match seen {
        None => "no `timestamp` (ISO-8601 string or epoch time) in the event".into(),
        Some(v) => format!(
            "`timestamp` {} is not an ISO-8601 time or epoch time between 1900 and 9999",
            excerpt(&v)
        ),
    }))
}

/// Epoch seconds of the years 2001–5138 (as milliseconds, 1970-01-12 to 1973-03-03).
const EPOCH_SECONDS: std::ops::Range<i64> = 1_000_000_000..100_000_000_000;
/// The first epoch millisecond of the year 10000: larger numbers are microseconds, from 1978 on.
const EPOCH_MS_END: i64 = 253_402_300_800_000;
/// The first epoch microsecond of the year 5138: larger numbers are nanoseconds, from 1973 on.
const EPOCH_US_END: i64 = 100_000_000_000_000_000;

/// An epoch time whose unit its size tells, in milliseconds: seconds (Python's `time.time()`,
/// Unix tools) from 2001, nanoseconds (OpenTelemetry's `timeUnixNano`, Go's `UnixNano`) and
/// microseconds, else milliseconds (JavaScript's `Date.now()`, the original tools). Read as
/// milliseconds, as JavaScript's `Date` reads any number, a time in seconds was an event of
/// January 1970, silently.
fn epoch_ms(n: i64) -> i64 {
    match n {
        n if EPOCH_SECONDS.contains(&n) => n * 1000,
        n if n < EPOCH_MS_END => n,
        n if n < EPOCH_US_END => n / 1000,
        n => n / 1_000_000,
    }
}

/// [`epoch_ms`] of a number with a fraction or an exponent (`1795849434.128` seconds: the
/// milliseconds rounded, not cut, as binary fractions are inexact).
fn epoch_ms_f64(v: f64) -> Option<i64> {
    let ms = match v {
        v if !v.is_finite() => return None,
        v if (EPOCH_SECONDS.start as f64..EPOCH_SECONDS.end as f64).contains(&v) => {
            (v * 1e3).round()
        }
        v if v < EPOCH_MS_END as f64 => v.trunc(),
        v if v < EPOCH_US_END as f64 => (v / 1e3).trunc(),
        v => (v / 1e6).trunc(),
    };
    // Out of i64's range saturates, and the years' check rejects it.
    Some(ms as i64)
}

fn excerpt(v: &Flex<'_>) -> String {
    let s = match v {
        Flex::Null => return "null".into(),
        Flex::Bool(b) => return format!("boolean {b}"),
        Flex::Num(_, t) => return format!("number {t}"),
        Flex::Str(s) => format!("string {:?}", s),
        Flex::Json(t, _) => format!("{} {}", super::flex::json_kind(t), t),
    };
    if s.len() > 60 {
        let cut = (0..=60).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

fn bad(field: &'static str, expected: &'static str, v: &Flex<'_>) -> ParseError {
    ParseError::BadValue {
        field,
        expected,
        got: excerpt(v),
    }
}

fn text<'a>(field: &'static str, v: Flex<'a>) -> Result<Option<Cow<'a, str>>, ParseError> {
    match v {
        Flex::Null => Ok(None),
        Flex::Str(s) => Ok(Some(s)),
        Flex::Num(_, t) => Ok(Some(Cow::Borrowed(t))),
        other => Err(bad(field, "a string", &other)),
    }
}

fn error_text<'a>(v: Flex<'a>) -> Result<Option<Cow<'a, str>>, ParseError> {
    Ok(match v {
        Flex::Null | Flex::Bool(false) => None,
        Flex::Str(s) if s.is_empty() => None,
        Flex::Str(s) => Some(sanitized(s)),
        Flex::Num(_, t) => Some(Cow::Borrowed(t)),
        Flex::Bool(true) => Some(Cow::Borrowed("true")),
        Flex::Json(t, form) => Some(sanitize_json_as(t, form)),
    })
}

fn sanitized(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => sanitize_text(b),
        // An unescaped text (a stack trace's `\n`s) the rules leave as it is stays the same
        // `String`, not a copy of it: those are most bytes of multi-KB error texts.
        Cow::Owned(o) => {
            let changed = match sanitize_text(&o) {
                Cow::Borrowed(_) => None,
                Cow::Owned(changed) => Some(changed),
            };
            Cow::Owned(changed.unwrap_or(o))
        }
    }
}

fn lower(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        Cow::Owned(s.to_lowercase())
    } else {
        s
    }
}

/// JSON given as an object/array, or as JSON text in a string (the original logger's `params`).
fn json_text<'a>(field: &'static str, v: Flex<'a>) -> Result<Cow<'a, str>, ParseError> {
    Ok(match v {
        Flex::Json(t, form) => sanitize_json_as(t, form),
        Flex::Str(s) => Cow::Owned(json_in_string(&s).into_owned()),
        Flex::Num(_, t) => Cow::Borrowed(t),
        Flex::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
        Flex::Null => return Err(bad(field, "JSON", &Flex::Null)),
    })
}

/// [`json_in_string`] of a JSON string literal (with its quotes and escapes).
fn json_in_literal(literal: &str) -> Cow<'_, str> {
    let s = match Flex::from_raw(literal) {
        Flex::Str(s) => s,
        _ => Cow::Borrowed(literal), // not a literal after all: read as it is
    };
    Cow::Owned(json_in_string(&s).into_owned())
}

fn json_in_string(s: &str) -> Cow<'_, str> {
    let parses = super::scan::is_plain_json(s)
        || serde_json::from_str::<&serde_json::value::RawValue>(s).is_ok();
    if parses {
        sanitize_json(s)
    } else {
        // Plain text where JSON was expected: keep it, as a JSON string.
        Cow::Owned(serde_json::Value::String(sanitize_text(s).into_owned()).to_string())
    }
}

fn number(field: &'static str, v: Flex<'_>) -> Result<Option<f64>, ParseError> {
    match &v {
        Flex::Null => Ok(None),
        Flex::Num(x, _) if x.is_finite() => Ok(Some(*x)),
        Flex::Str(s) => match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(bad(field, "a number or a numeric string", &v)),
        },
        _ => Err(bad(field, "a number or a numeric string", &v)),
    }
}

fn integer(field: &'static str, v: Flex<'_>) -> Result<Option<i64>, ParseError> {
    match number(field, v.clone())? {
        None => Ok(None),
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Some(x as i64)),
        Some(_) => Err(bad(field, "a whole number", &v)),
    }
}

fn boolean(field: &'static str, v: Flex<'_>) -> Result<Option<bool>, ParseError> {
    match &v {
        Flex::Null => Ok(None),
        Flex::Bool(b) => Ok(Some(*b)),
        Flex::Num(x, _) if *x == 0.0 || *x == 1.0 => Ok(Some(*x == 1.0)),
        Flex::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Flex::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(bad(
            field,
            "true or false (or the strings \"true\"/\"false\")",
            &v,
        )),
    }
}

fn extra_object(fields: &[(Cow<'_, str>, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A `&str` serializes as a JSON string and cannot fail to.
        out.push_str(&serde_json::to_string(&**k).unwrap_or_default());
        out.push(':');
        if is_secret_key(k) && !matches!(*v, "null" | "\"\"") {
            out.push('"');
            out.push_str(REDACTED);
            out.push('"');
        } else {
            out.push_str(&sanitize_json(v));
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(stream: Stream, line: &str) -> Normalized<'_> {
        parse_line(stream, line.as_bytes()).expect("valid line")
    }

    /// A decoder's `Normalized` goes from line to line: after a line that set every field (an
    /// unknown key, a mismatched type, JSON text in `params`), the next line's event is the one
    /// a fresh value gives, and reset leaves nothing of the last line behind.
    #[test]
    fn a_reused_normalized_holds_nothing_of_the_last_line() {
        let full = r#"{"timestamp":"2026-11-28T01:00:00Z","skill":"s","agent":"a","result":"r","run_id":"x","cuj_id":"c","params":"{\"k\":1}","duration_ms":5,"cache_hit":true,"success":false,"error":"boom","step":2,"status":"done","percentage":"half","message":"m","provider":"P","model":"g","latency_ms":7,"metadata":{"a":[1]},"zz":1,"step_index":"no"}"#;
        let next = r#"{"timestamp":"2026-11-29T01:00:00Z","skill":"t"}"#;
        for stream in [
            Stream::Skill,
            Stream::Cuj,
            Stream::Progress,
            Stream::Provider,
        ] {
            let mut n = Normalized::default();
            // A line some stream rejects still leaves its fields behind for the next one.
            let _ = parse_str_into(stream, full, &mut n);
            assert!(!n.unknown.is_empty() && n.extra.is_some(), "{stream:?}");
            assert_eq!(
                stream == Stream::Progress,
                !n.mismatched.is_empty(),
                "{stream:?}"
            );
            n.reset();
            assert_eq!(n, Normalized::default(), "{stream:?}");
            // As a decoder goes: the record and the field list kept from line to line.
            let mut reused = Normalized::default();
            let mut fields = Fields::new();
            let _ = parse_str_reusing(stream, full, &mut reused, &mut fields);
            let fresh = parse_line(stream, next.as_bytes());
            let again = parse_str_reusing(stream, next, &mut reused, &mut fields).map(|()| reused);
            assert_eq!(again, fresh, "{stream:?}");
        }
    }

    /// Keys with escapes (the scanner leaves those lines to serde_json) are the keys they spell:
    /// a known one sets its column, an unknown one goes to `extra` under its unescaped name; in
    /// turn with lines of plain keys, through one reused record and field list.
    #[test]
    fn escaped_keys_are_the_keys_they_spell() {
        let plain = r#"{"timestamp":"2026-11-28T01:00:00Z","skill":"s","duration_ms":5,"zz":1}"#;
        let escaped = r#"{"timest\u0061mp":"2026-11-28T01:00:00Z","sk\u0069ll":"s","duration_ms":5,"z\u007a":1}"#;
        let want = ok(Stream::Skill, plain);
        assert_eq!(want.skill.as_deref(), Some("s"));
        assert_eq!(want.extra.as_deref(), Some(r#"{"zz":1}"#));
        let mut n = Normalized::default();
        let mut fields = Fields::new();
        for line in [escaped, plain, escaped] {
            parse_str_reusing(Stream::Skill, line, &mut n, &mut fields).expect("valid line");
            assert_eq!(n, want, "{line}");
        }
    }

    /// A byte-order mark before a line's object, and a Windows line end, leave the event as it is.
    #[test]
    fn a_byte_order_mark_and_a_carriage_return_are_no_part_of_the_event() {
        let line = r#"{"timestamp":"2026-11-28T01:00:00Z","skill":"s","params":{"a":1}}"#;
        let want = ok(Stream::Skill, line);
        for framed in [format!("\u{feff}{line}"), format!("\u{feff}{line}\r")] {
            assert_eq!(ok(Stream::Skill, &framed), want, "{framed:?}");
        }
        // Anywhere else it is a character like any other: not JSON before the object.
        assert!(parse_line(Stream::Skill, format!(" \u{feff}{line}").as_bytes()).is_err());
    }

    #[test]
    fn key_words_are_the_zero_padded_bytes() {
        for n in 0..=17usize {
            let key: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            let mut w = [0u8; 16];
            let expected = (n <= 16).then(|| {
                w[..n].copy_from_slice(&key);
                let (a, b) = w.split_at(8);
                let word = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap());
                KeyWords(word(a), word(b), n)
            });
            assert!(KeyWords::of(&key) == expected, "length {n}");
        }
    }

    /// A decoder reuses one record for its lines: parameters of one line never show in the next.
    #[test]
    fn a_reused_record_holds_each_lines_own_params() {
        let lines = [
            r#"{"timestamp":"2026-11-28T00:00:00Z","skill":"a","params":"{\"q\":1}"}"#,
            r#"{"timestamp":"2026-11-28T00:00:00Z","skill":"b"}"#,
            r#"{"timestamp":"2026-11-28T00:00:00Z","skill":"c","params":{"q":2}}"#,
            r#"{"timestamp":"2026-11-28T00:00:00Z","skill":"d","params":"{\"q\":1}"}"#,
            r#"{"timestamp":"2026-11-28T00:00:00Z","skill":"e","params":"{\"q\":3}","params":{"q":4}}"#,
            r#"{"timestamp":"2026-11-28T00:00:00Z","skill":"f","params":{"q":5},"params":"{\"q\":6}"}"#,
        ];
        let want = [
            r#"{"q":1}"#,
            "{}",
            r#"{"q":2}"#,
            r#"{"q":1}"#,
            r#"{"q":4}"#,
            r#"{"q":6}"#,
        ];
        let mut n = Normalized::default();
        for (line, want) in lines.iter().zip(want) {
            parse_str_into(Stream::Skill, line, &mut n).unwrap();
            assert_eq!(n.params(), Some(want), "{line}");
            assert_eq!(n, parse_str(Stream::Skill, line).unwrap(), "{line}");
        }
    }

    #[test]
    fn original_skill_record() {
        let line = r#"{"timestamp":"2026-11-28T00:32:27.895Z","type":"skill_invocation","skill":"scaffolder","params":"{\"repo\":\"acme/web\",\"password\":\"[REDACTED]\"}","result":"failure","duration_ms":296,"cache_hit":false,"agent":"code-reviewer","run_id":"run-005","cuj_id":"CUJ-001","error":"Timeout after 30000ms","metadata":{"memory_delta_mb":29.11}}"#;
        let n = ok(Stream::Skill, line);
        assert_eq!(n.ts, parse_iso_ms("2026-11-28T00:32:27.895Z").unwrap());
        assert_eq!(n.skill.as_deref(), Some("scaffolder"));
        assert_eq!(
            n.params(),
            Some(r#"{"repo":"acme/web","password":"[REDACTED]"}"#)
        );
        assert_eq!(n.duration_ms, Some(296.0));
        assert_eq!(n.metadata, r#"{"memory_delta_mb":29.11}"#);
        assert_eq!(n.extra, None);
    }

    #[test]
    fn provider_model_falls_back_to_metadata() {
        let line = r#"{"timestamp":1,"provider":"a","success":true,"metadata":{"model":"m-1","tokens_in":5}}"#;
        assert_eq!(ok(Stream::Provider, line).model.as_deref(), Some("m-1"));
        let line = r#"{"timestamp":1,"provider":"a","model":"top","success":true,"metadata":{"model":"m-1"}}"#;
        assert_eq!(ok(Stream::Provider, line).model.as_deref(), Some("top"));
    }

    #[test]
    fn epoch_timestamps_and_iso_fallback() {
        let n = ok(
            Stream::Provider,
            r#"{"timestamp":1795849434128,"iso_timestamp":"x","provider":"Anthropic","success":true}"#,
        );
        assert_eq!(n.ts, 1795849434128);
        assert_eq!(n.provider.as_deref(), Some("anthropic"));
        let n = ok(
            Stream::Provider,
            r#"{"timestamp":null,"iso_timestamp":"2026-11-28T07:03:54.128Z","provider":"a","success":"false"}"#,
        );
        assert_eq!(n.ts, 1795849434128);
        assert_eq!(n.success, Some(false));
    }

    /// Epoch times in seconds, microseconds and nanoseconds are told from milliseconds by their
    /// size; small numbers stay milliseconds, as JavaScript's `Date` reads them.
    #[test]
    fn epoch_times_in_other_units() {
        let ts = |t: &str| {
            let line = format!(r#"{{"timestamp":{t},"provider":"a","success":true}}"#);
            parse_line(Stream::Provider, line.as_bytes()).map(|n| n.ts)
        };
        let at = 1795849434128; // 2026-11-28T07:03:54.128Z
        for t in [
            "1795849434128",
            "1795849434.128",
            "\"1795849434.128\"",
            "1795849434128000",
            "1795849434128999",
            "1795849434128000000",
            "\"1795849434128000000\"",
            "1.795849434128e18",
        ] {
            assert_eq!(ts(t).ok(), Some(at), "{t}");
        }
        assert_eq!(ts("1795849434").ok(), Some(1795849434000));
        assert_eq!(ts("\"1795849434\"").ok(), Some(1795849434000));
        assert_eq!(ts("1").ok(), Some(1));
        assert_eq!(ts("999999999").ok(), Some(999999999));
        assert_eq!(ts("-5").ok(), Some(-5));
        assert!(ts("\"NaN\"").is_err());
        assert!(ts("1e300").is_err());
    }

    #[test]
    fn bad_values_are_reasons() {
        let e = parse_line(
            Stream::Cuj,
            br#"{"timestamp":"2026-11-28T00:00:00Z","cuj_id":"C","success":"maybe"}"#,
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "field `success` must be true or false (or the strings \"true\"/\"false\"), got string \"maybe\""
        );
        assert!(matches!(
            parse_line(Stream::Cuj, b"null"),
            Err(ParseError::NotObject("null"))
        ));
        assert!(matches!(
            parse_line(Stream::Cuj, b"{\"cuj_id\":\"C\",\"success\":true}"),
            Err(ParseError::Timestamp(_))
        ));
        assert!(matches!(
            parse_line(Stream::Cuj, b"{\"timestamp\":1,\"success\":true}"),
            Err(ParseError::Missing("cuj_id"))
        ));
        assert!(matches!(
            parse_line(Stream::Cuj, b"{\"a\":\"\xff\"}"),
            Err(ParseError::NotUtf8(_))
        ));
    }

    /// Every value `set_plain` takes as it stands leaves the record as `set_field`'s conversion
    /// of the same value does (a value it leaves alone goes through `set_field` anyway), for
    /// every column, on a record that already held a value there (a repeated key: the last
    /// one wins).
    #[test]
    fn values_set_as_written_agree_with_the_conversions() {
        let values = [
            r#""name""#,
            r#""""#,
            r#""12.5""#,
            r#""true""#,
            "0",
            "-3",
            "12.75",
            "1e999",
            "-1e999",
            "2.5e-3",
            "true",
            "false",
            "null",
            r#"{"a":1}"#,
            "[1]",
        ];
        let columns = Stream::ALL.iter().flat_map(|s| s.columns().iter().copied());
        let mut taken = 0;
        for col in columns {
            for value in values {
                let mut before = Normalized::default();
                // A value already set, as by an earlier key of the same name.
                let _ = set_field(&mut before, col, Flex::from_raw(r#""earlier""#));
                let _ = set_field(&mut before, col, Flex::from_raw("7"));
                let _ = set_field(&mut before, col, Flex::from_raw("true"));
                let mut plain = before.clone();
                if !set_plain(&mut plain, col, value, false) {
                    assert_eq!(plain, before, "{col:?} {value}: nothing set when refused");
                    continue;
                }
                taken += 1;
                let mut converted = before.clone();
                assert!(
                    set_field(&mut converted, col, Flex::from_raw(value)).is_ok(),
                    "{col:?} {value}: taken as written, but the conversion refuses it"
                );
                assert_eq!(plain, converted, "{col:?} {value}");
            }
        }
        // Names and ids (strings), measures (numbers), flags (booleans), the error (null).
        assert!(taken >= 30, "only {taken} values taken as written");
        // A string with escapes is never taken as written.
        let mut n = Normalized::default();
        assert!(!set_plain(&mut n, Col::Skill, r#""a\u0062""#, true));
    }

    /// A `timestamp` read as written (an ISO time without escapes) is the time [`timestamp`]
    /// reads from the same value; any other value is left to it. And a repeated `timestamp`
    /// key is the last one's, whichever of the two paths each takes.
    #[test]
    fn timestamps_read_as_written_agree_with_the_conversion() {
        let values = [
            r#""2026-11-23T00:00:00.169Z""#,
            r#""2026-11-23T01:02:03+05:30""#,
            r#""2026-11-23 01:02:03.5""#,
            r#""2026-11-23T01:02:03""#,
            r#""0001-01-01T00:00:00Z""#,
            r#""1899-12-31T23:59:59.999Z""#,
            r#""9999-12-31T23:59:59.999Z""#,
            r#""1795849434""#,
            r#""1795849434.128""#,
            r#""yesterday""#,
            r#""""#,
            r#""2026-11-23T00:00:00\u002e169Z""#,
            "1795849434128",
            "null",
            "true",
        ];
        let mut taken = 0;
        for value in values {
            let loose = value.contains('\\');
            let full = timestamp([Some(Flex::from_scanned(value, loose)), None, None]).ok();
            if let Some(ms) = plain_iso_ms(value, loose) {
                taken += 1;
                assert_eq!(Some(ms), full, "{value}");
            }
        }
        assert!(taken >= 4, "only {taken} timestamps read as written");
        // Out of range is not taken: the other keys may still hold the time.
        assert_eq!(plain_iso_ms(r#""0001-01-01T00:00:00Z""#, false), None);
        let line = |a: &str, b: &str| {
            format!(
                r#"{{"timestamp":{a},"ts":1795849434,"timestamp":{b},"cuj_id":"C","success":true}}"#
            )
        };
        let iso = r#""2026-11-23T00:00:00.169Z""#;
        assert_eq!(ok(Stream::Cuj, &line("null", iso)).ts, 1_795_392_000_169);
        // The last `timestamp` does not read, so `ts` gives the time.
        assert_eq!(
            ok(Stream::Cuj, &line(iso, r#""late""#)).ts,
            1_795_849_434_000
        );
    }

    #[test]
    fn values_of_an_unexpected_type_keep_their_event() {
        let n = ok(
            Stream::Cuj,
            r#"{"timestamp":1,"cuj_id":"C","success":true,"duration_ms":"abc","zone":"eu"}"#,
        );
        assert_eq!(n.duration_ms, None);
        assert_eq!(n.mismatched, vec![("duration_ms", "string")]);
        assert_eq!(n.unknown, vec![(Cow::Borrowed("zone"), "string")]);
        assert_eq!(
            n.extra.as_deref(),
            Some(r#"{"duration_ms":"abc","zone":"eu"}"#)
        );
        let n = ok(
            Stream::Skill,
            r#"{"timestamp":1,"skill":"s","duration_ms":[1],"cache_hit":"maybe","agent":{"a":1}}"#,
        );
        assert_eq!((n.duration_ms, n.cache_hit), (None, None));
        assert_eq!(n.agent.as_deref(), Some("unknown"));
        // An absent value still takes the original tools' default.
        let n = ok(Stream::Skill, r#"{"timestamp":1,"skill":"s"}"#);
        assert_eq!((n.duration_ms, n.cache_hit), (Some(0.0), Some(false)));
        // The key field must convert.
        assert!(parse_line(Stream::Skill, br#"{"timestamp":1,"skill":{"n":1}}"#).is_err());
    }

    #[test]
    fn unknown_fields_are_kept_in_extra() {
        let n = ok(
            Stream::Cuj,
            r#"{"timestamp":1,"cuj_id":"C","success":1,"zone":"eu","nested":{"api_key":"k"},"token":"t"}"#,
        );
        assert_eq!(
            n.extra.as_deref(),
            Some(r#"{"zone":"eu","nested":{"api_key":"[REDACTED]"},"token":"[REDACTED]"}"#)
        );
        assert_eq!(n.unknown.len(), 3);
    }
}
