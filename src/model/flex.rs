//! Zero-copy reading of one JSON line: the top-level object's keys and the raw text of each value,
//! and the loosely typed interpretation of a value ([`Flex`]) that the normalizer converts.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The top-level fields of one line: (key, raw JSON text of the value) pairs in input order.
///
/// Up to [`Fields::PLAIN`] fields with unescaped keys (the scanner's case) live in a fixed array:
/// a `Vec` per line, and then a `SmallVec` whose out-of-line `push` stalled on each 40-byte
/// element, both showed in ingest profiles. The rest (serde_json's case) go to a `Vec`.
pub struct Fields<'a> {
    plain: [(&'a str, &'a str); Fields::PLAIN],
    /// Bit `i`: the value of `plain[i]` is written loosely (a string that holds escapes; an
    /// object or array with white space between its tokens).
    loose: u16,
    len: usize,
    other: Vec<(Cow<'a, str>, &'a str)>,
}

impl<'a> Fields<'a> {
    /// How many fields with plain keys fit in the array.
    pub const PLAIN: usize = 16;

    /// No fields.
    pub fn new() -> Self {
        Fields {
            plain: [("", ""); Fields::PLAIN],
            loose: 0,
            len: 0,
            other: Vec::new(),
        }
    }

    /// Forgets every field.
    pub fn clear(&mut self) {
        self.len = 0;
        self.loose = 0;
        self.other.clear();
    }

    /// Adds a field whose key needs no unescaping (`loose`: its value is a string that holds
    /// escapes, or an object or array with white space between its tokens); false (nothing
    /// added) when the array is full.
    #[inline(always)]
    pub fn push_plain(&mut self, key: &'a str, value: &'a str, loose: bool) -> bool {
        if self.len == Fields::PLAIN || !self.other.is_empty() {
            return false;
        }
        self.plain[self.len] = (key, value);
        self.loose |= (loose as u16) << self.len;
        self.len += 1;
        true
    }

    /// Adds any field (after the plain ones).
    pub fn push(&mut self, key: Cow<'a, str>, value: &'a str) {
        self.other.push((key, value));
    }

    /// The fields in input order.
    pub fn iter(&self) -> impl Iterator<Item = (Cow<'a, str>, &'a str)> + '_ {
        self.plain[..self.len]
            .iter()
            .map(|&(k, v)| (Cow::Borrowed(k), v))
            .chain(self.other.iter().cloned())
    }

    /// The fields in input order, each with whether its value may be written loosely (known for
    /// the scanner's fields; assumed for the others): see [`Flex::from_scanned`].
    pub fn iter_scanned(&self) -> impl Iterator<Item = (Cow<'a, str>, &'a str, bool)> + '_ {
        self.plain()
            .map(|(k, v, loose)| (Cow::Borrowed(k), v, loose))
            .chain(self.other.iter().map(|(k, v)| (k.clone(), *v, true)))
    }

    /// The fields with plain keys, in input order, each with whether its value may be written
    /// loosely (see [`Self::push_plain`]); the [`Self::other`] fields follow them. Apart, so that the normalizer's
    /// loop over these builds no `Cow` per key (13 instructions a field: 1.4 % of ingesting the
    /// tools shape, callgrind).
    pub fn plain(&self) -> impl Iterator<Item = (&'a str, &'a str, bool)> + '_ {
        let loose = self.loose;
        self.plain[..self.len]
            .iter()
            .enumerate()
            .map(move |(i, &(k, v))| (k, v, loose >> i & 1 == 1))
    }

    /// The fields after the [`Self::plain`] ones (keys with escapes, or past [`Fields::PLAIN`]);
    /// their values may be written loosely.
    pub fn other(&self) -> &[(Cow<'a, str>, &'a str)] {
        &self.other
    }
}

impl Default for Fields<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a line is not a JSON object.
#[derive(Debug)]
pub enum NotObject {
    /// The line is not JSON at all (serde_json's message).
    Syntax(String),
    /// The line is JSON but not an object: `null`, a number, a string or an array.
    Kind(&'static str),
}

/// Parses one line (without its newline) as a JSON object: its top-level fields, in input order
/// and borrowed from the line, into `fields` (filled in place: the list is ~600 bytes, and moving
/// it by value twice per line showed as `memcpy` in profiles).
pub fn parse_object<'a>(line: &'a str, fields: &mut Fields<'a>) -> Result<(), NotObject> {
    if super::scan::object(line, fields) {
        return Ok(());
    }
    let first = line.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        return Err(match serde_json::from_str::<&RawValue>(line) {
            Err(e) => NotObject::Syntax(e.to_string()),
            Ok(v) => NotObject::Kind(json_kind(v.get())),
        });
    }
    let mut de = serde_json::Deserializer::from_str(line);
    fields.clear();
    de.deserialize_map(RecordVisitor(fields))
        .map_err(|e| NotObject::Syntax(e.to_string()))?;
    de.end().map_err(|e| NotObject::Syntax(e.to_string()))
}

struct RecordVisitor<'f, 'de>(&'f mut Fields<'de>);

impl<'de> Visitor<'de> for RecordVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(key) = map.next_key::<KeyStr<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            self.0.push(key.0, value.get());
        }
        Ok(())
    }
}

/// A key that borrows from the input unless it contains escapes.
struct KeyStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for KeyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The value of a number's text (`NaN` when it is none). Plain decimals of up to 15 significant
/// digits (`119.73`, `1781`, `-0.5`: nearly every number of an event line) are read here: their
/// digits as an integer below 2^53 and a power of ten up to 10^22 are both exact in an `f64`,
/// so one division rounds correctly (Clinger's fast path, the same one `str::parse` takes after
/// its general scan: 1.4 % of the CPU of ingesting the tools shape, perf; 192 → 118 instructions
/// per line, callgrind). Anything else (an exponent, more digits) goes to `str::parse`.
pub(crate) fn number(text: &str) -> f64 {
    /// Powers of ten exact in an `f64`.
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let slow = || text.parse::<f64>().unwrap_or(f64::NAN);
    let bytes = text.as_bytes();
    let (negative, body) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    // At most 17 bytes: the mantissa cannot overflow; more than 15 digits go to `str::parse`.
    if body.is_empty() || body.len() > 17 {
        return slow();
    }
    let (mut mantissa, mut digits, mut decimals, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in body {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                digits += 1;
                decimals += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return slow(),
        }
    }
    if digits == 0 || digits > 15 {
        return slow();
    }
    let value = mantissa as f64 / POW10[decimals];
    if negative { -value } else { value }
}

/// A JSON value read loosely: what the normalizer needs to convert it to a column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Flex<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, with its text (kept for exact integer handling).
    Num(f64, &'a str),
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// An object or array, as raw JSON text, and how it is written.
    Json(&'a str, Form),
}

/// How the raw text of an object or array ([`Flex::Json`]) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Compact: no white space between its tokens (its strings may hold escapes), as the
    /// scanner read it.
    Compact,
    /// Not known to be compact.
    Any,
}

impl<'a> Flex<'a> {
    /// Interprets the raw JSON text of one (validated) value.
    pub fn from_raw(text: &'a str) -> Flex<'a> {
        match text.as_bytes().first() {
            Some(b'"') => {
                let inner = &text[1..text.len() - 1];
                if super::scan::backslash(inner.as_bytes()).is_none() {
                    Flex::Str(Cow::Borrowed(inner))
                } else {
                    // Validated text has only valid escapes; were one not, the value is kept
                    // as written rather than lost.
                    Flex::Str(Cow::Owned(
                        unescape(inner).unwrap_or_else(|| inner.to_string()),
                    ))
                }
            }
            Some(b'n') => Flex::Null,
            Some(b't') => Flex::Bool(true),
            Some(b'f') => Flex::Bool(false),
            Some(b'{') | Some(b'[') => Flex::Json(text, Form::Any),
            _ => Flex::Num(number(text), text),
        }
    }

    /// [`Flex::from_raw`] of a value whose scan said whether it may be written loosely (see
    /// [`Fields::push_plain`]): a string without escapes is its body, with no second search for
    /// a backslash (~200 instructions per event line, callgrind); an object or array without
    /// white space between its tokens is [`Form::Compact`].
    #[inline]
    pub fn from_scanned(text: &'a str, loose: bool) -> Flex<'a> {
        match text.as_bytes().first() {
            Some(b'"') if !loose => Flex::Str(Cow::Borrowed(&text[1..text.len() - 1])),
            Some(b'{' | b'[') if !loose => Flex::Json(text, Form::Compact),
            _ => Flex::from_raw(text),
        }
    }

    /// The JSON type's name, for messages and schema drift.
    pub fn kind(&self) -> &'static str {
        match self {
            Flex::Null => "null",
            Flex::Bool(_) => "boolean",
            Flex::Num(..) => "number",
            Flex::Str(_) => "string",
            Flex::Json(t, _) => json_kind(t),
        }
    }
}

/// Unescapes a string body; `None` at an escape JSON does not have.
///
/// A `\u` escape of a surrogate that is not half of a pair (JSON allows it, UTF-8 cannot hold
/// it) becomes U+FFFD, as JavaScript writes such a string to UTF-8: serde_json refuses the whole
/// string, which left the field empty (`"error":"bad \ud83d here"` was stored as null).
pub(crate) fn unescape(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(k) = super::scan::backslash(rest.as_bytes()) {
        out.push_str(&rest[..k]);
        let simple = match rest.as_bytes().get(k + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, used) = unicode_escape(&rest[k..])?;
                out.push(c);
                rest = &rest[k + used..];
                continue;
            }
            _ => return None,
        };
        out.push(simple);
        rest = &rest[k + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// The character of the `\uXXXX` escape (with its low half when it starts a surrogate pair)
/// at the start of `s`, and the bytes it took.
fn unicode_escape(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    match super::scan::unicode_escape(b, 0) {
        Some((c, used)) => Some((char::from_u32(c)?, used)),
        // Half a surrogate pair alone (a malformed escape is `None`).
        None => super::scan::hex4(b, 2).map(|_| ('\u{fffd}', 6)),
    }
}

/// The JSON type of a raw value's text.
pub fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b'n') => "null",
        Some(b't') | Some(b'f') => "boolean",
        _ => "number",
    }
}

/// Valid JSON text compact: without its insignificant white space, and with each `\u` escape of
/// a character outside ASCII written as that character (as JavaScript's `JSON.stringify` and
/// serde_json write it), without reparsing the text. Python's `json.dumps` escapes every such
/// character: six bytes (twelve for a pair) where UTF-8 takes two to four, stored and compressed
/// as written, and `params LIKE '%café%'` did not find `caf\u00e9`. Other escapes stay as written.
pub fn minify_json(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if !bytes
        .iter()
        .any(|&b| matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
        && memchr::memmem::find(bytes, b"\\u").is_none()
    {
        return Cow::Borrowed(text);
    }
    // Strings are copied whole, found by their quotes and escapes; the byte loop this replaced
    // (a state per byte) was 6 % of ingesting objects as Python's `json.dumps` writes them.
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\n' | b'\t' | b'\r' => i += 1,
            b'"' => {
                let mut end = i + 1;
                let mut unicode = false;
                let end = loop {
                    let rest = &bytes[end.min(bytes.len())..];
                    match memchr::memchr2(b'"', b'\\', rest) {
                        // Unterminated (not JSON): the rest is the string's.
                        None => break bytes.len(),
                        Some(k) if rest[k] == b'"' => break end + k + 1,
                        Some(k) => {
                            unicode |= rest.get(k + 1) == Some(&b'u');
                            end += k + 2; // a backslash and the byte it escapes
                        }
                    }
                };
                // `end` follows a quote or ends the text: a char boundary.
                match unicode {
                    true => _ = push_decoding_non_ascii(&mut out, &text[i..end]),
                    false => out.push_str(&text[i..end]),
                }
                i = end;
            }
            _ => {
                let run = bytes[i..]
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\n' | b'\t' | b'\r' | b'"'))
                    .map_or(bytes.len(), |k| i + k);
                out.push_str(&text[i..run]);
                i = run;
            }
        }
    }
    Cow::Owned(out)
}

/// Appends JSON string text (quotes and escapes as written) with each `\u` escape of a character
/// outside ASCII (a surrogate pair joined) written as the character; an escape of an ASCII
/// character, or of half a surrogate pair alone, stays as written. Returns whether one did.
///
/// Escapes come in runs (Python's `json.dumps` escapes every character of a word outside
/// ASCII): the next one is looked for where the last ended before the text is searched, and
/// nothing is copied between two. With a search and a copy per escape, this was 4.7 % of the
/// instructions of ingesting the python shape (callgrind).
pub(crate) fn push_decoding_non_ascii(out: &mut String, raw: &str) -> bool {
    let b = raw.as_bytes();
    let (mut from, mut at) = (0, 0);
    let mut kept = false;
    loop {
        let k = match b.get(at) {
            Some(b'\\') => at,
            Some(_) => match memchr::memchr(b'\\', &b[at..]) {
                Some(k) => at + k,
                None => break,
            },
            None => break,
        };
        at = k + 2; // past the escaped byte (`\\u0041` is a backslash, then `u0041`)
        if b.get(k + 1) != Some(&b'u') {
            kept = true;
            continue;
        }
        let decoded = super::scan::unicode_escape(b, k)
            .filter(|&(c, _)| c >= 0x80)
            .and_then(|(c, used)| Some((char::from_u32(c)?, used)));
        match decoded {
            Some((c, used)) => {
                if k > from {
                    out.push_str(&raw[from..k]);
                }
                out.push(c);
                from = k + used;
                at = from;
            }
            None => kept = true,
        }
    }
    out.push_str(&raw[from..]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    struct RawRecord<'a> {
        fields: Vec<(Cow<'a, str>, &'a str)>,
    }

    impl RawRecord<'_> {
        fn parse(line: &str) -> Result<RawRecord<'_>, NotObject> {
            let mut fields = Fields::new();
            parse_object(line, &mut fields)?;
            Ok(RawRecord {
                fields: fields.iter().collect(),
            })
        }
    }

    #[test]
    fn numbers_read_as_str_parse_reads_them() {
        let fixed = [
            "0",
            "-0",
            "1",
            "-1",
            "0.1",
            "0.3",
            "119.73",
            "1781",
            "-0.5",
            "6.42",
            "2.675",
            "123456789012345",
            "1234567890123456",
            "12345678901234567",
            "0.000000000000000000001",
            "0.0000000000000000000001",
            "9007199254740993",
            "1e3",
            "1E-7",
            "-2.5e+10",
            "1.",
            ".5",
            "-",
            "",
            "abc",
            "1.2.3",
            "4503599627370497.5",
            "999999999999999.9",
        ];
        for t in fixed {
            let (got, want) = (number(t), t.parse::<f64>().unwrap_or(f64::NAN));
            assert!(
                got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
                "{t}"
            );
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200_000 {
            let width = rng.random_range(1..16);
            let int: u64 = rng.random_range(0..10u64.pow(width));
            let decimals = rng.random_range(0..18usize);
            let digits = format!("{int:0>width$}", width = decimals + 1);
            let (a, b) = digits.split_at(digits.len() - decimals);
            let sign = if rng.random_bool(0.3) { "-" } else { "" };
            let t = if decimals == 0 {
                format!("{sign}{a}")
            } else {
                format!("{sign}{a}.{b}")
            };
            assert_eq!(
                number(&t).to_bits(),
                t.parse::<f64>()
                    .map(f64::to_bits)
                    .expect("a decimal parses"),
                "{t}"
            );
        }
    }

    #[test]
    fn reads_fields_in_order_and_values_loosely() {
        let rec = RawRecord::parse(r#"{"a":1.5,"b":"x\"y","c":{"d": [1, 2]},"e":null,"f":true}"#)
            .expect("object");
        let keys: Vec<_> = rec.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "b", "c", "e", "f"]);
        assert_eq!(Flex::from_raw(rec.fields[0].1), Flex::Num(1.5, "1.5"));
        assert_eq!(Flex::from_raw(rec.fields[1].1), Flex::Str("x\"y".into()));
        assert_eq!(
            Flex::from_raw(r#""a\\b\n\t\/\u00e9""#),
            Flex::Str("a\\b\n\t/é".into())
        );
        assert_eq!(
            Flex::from_raw(r#""\"q\" \\\\ \r\b\f""#),
            Flex::Str("\"q\" \\\\ \r\u{8}\u{c}".into())
        );
        assert_eq!(
            Flex::from_raw(rec.fields[2].1),
            Flex::Json(r#"{"d": [1, 2]}"#, Form::Any)
        );
        assert_eq!(Flex::from_raw(rec.fields[3].1), Flex::Null);
        assert_eq!(Flex::from_raw(rec.fields[4].1), Flex::Bool(true));
    }

    /// `\u` escapes decode as serde_json decodes them; a surrogate that is not half of a pair,
    /// which serde_json refuses, is U+FFFD and the rest of the string is kept.
    #[test]
    fn unicode_escapes_and_lone_surrogates() {
        let s = |raw: &str| match Flex::from_raw(raw) {
            Flex::Str(s) => s.into_owned(),
            other => panic!("{raw}: {other:?}"),
        };
        for raw in [
            r#""\u0041\u00e9\u20AC""#,
            r#""smile \ud83d\ude00 ok""#,
            r#""\uD83D\uDE00\uD83D\uDE00""#,
            r#""\u0000\u001f\u007f""#,
            r#""a\"\u005c\\""#,
            r#""\uffff\ue000""#,
        ] {
            let want: String = serde_json::from_str(raw).expect("valid JSON");
            assert_eq!(s(raw), want, "{raw}");
        }
        for (raw, want) in [
            (r#""bad \ud83d here""#, "bad \u{fffd} here"),
            (r#""\udc00x""#, "\u{fffd}x"),
            (r#""\ud83d\ud83d\ude00""#, "\u{fffd}\u{1f600}"),
            (r#""\ud83d\u0041""#, "\u{fffd}A"),
            (r#""end \ud83d""#, "end \u{fffd}"),
            (r#""\ud83d\n""#, "\u{fffd}\n"),
        ] {
            assert!(serde_json::from_str::<String>(raw).is_err(), "{raw}");
            assert_eq!(s(raw), want, "{raw}");
        }
    }

    #[test]
    fn more_fields_than_the_array_holds_keep_their_order() {
        let keys: Vec<String> = (0..Fields::PLAIN + 5).map(|i| format!("k{i}")).collect();
        let line = format!(
            "{{{}}}",
            keys.iter()
                .map(|k| format!("\"{k}\":1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let rec = RawRecord::parse(&line).expect("object");
        let got: Vec<&str> = rec.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(got, keys);
    }

    #[test]
    fn rejects_non_objects_with_their_kind() {
        assert!(matches!(
            RawRecord::parse("null"),
            Err(NotObject::Kind("null"))
        ));
        assert!(matches!(
            RawRecord::parse("42"),
            Err(NotObject::Kind("number"))
        ));
        assert!(matches!(
            RawRecord::parse("{\"a\":"),
            Err(NotObject::Syntax(_))
        ));
        assert!(matches!(
            RawRecord::parse("{} x"),
            Err(NotObject::Syntax(_))
        ));
    }

    /// The byte-at-a-time minifier `minify_json` replaced, as the reference.
    fn minify_reference(text: &str) -> String {
        let (mut out, mut in_str, mut escaped) = (String::new(), false, false);
        for c in text.chars() {
            if in_str {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_str = false;
                }
            } else if !matches!(c, ' ' | '\n' | '\t' | '\r') {
                in_str = c == '"';
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn minify_agrees_with_the_byte_loop() {
        use rand::{Rng, SeedableRng};
        let parts = [
            "{", "}", "[", "]", ",", ":", " ", "\n", "\t", "\"", "\\", "\\\"", "a b", "é", "1",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        for _ in 0..20_000 {
            let text: String = (0..rng.random_range(0..24))
                .map(|_| parts[rng.random_range(0..parts.len())])
                .collect();
            assert_eq!(minify_json(&text), minify_reference(&text), "{text:?}");
        }
    }

    /// Escapes of characters outside ASCII are written as the characters; others stay.
    #[test]
    fn minify_writes_non_ascii_escapes_as_characters() {
        for (text, want) in [
            (r#"{"q": "caf\u00e9 \u65e0"}"#, r#"{"q":"café 无"}"#),
            (r#"{"q":"\ud83d\ude80!"}"#, r#"{"q":"🚀!"}"#),
            (
                r#"{"\u00e9":"\u0041\n\u001f\"\\u00e9"}"#,
                r#"{"é":"\u0041\n\u001f\"\\u00e9"}"#,
            ),
            (
                r#"{"q":"\ud83d \udc00 \ud83d\u0041"}"#,
                r#"{"q":"\ud83d \udc00 \ud83d\u0041"}"#,
            ),
        ] {
            assert_eq!(minify_json(text), want, "{text}");
            let a: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            let b: serde_json::Value = serde_json::from_str(want).unwrap_or_default();
            assert_eq!(a, b, "{text}");
        }
    }

    /// `push_decoding_non_ascii` written another way, as the reference: `str` searches, the
    /// standard library's hex and UTF-16 decoding.
    fn push_decoding_reference(out: &mut String, raw: &str) -> bool {
        let unit = |s: &str| {
            s.get(2..6)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u16::from_str_radix(h, 16).ok())
        };
        let mut kept = false;
        let mut rest = raw;
        while let Some(k) = rest.find('\\') {
            out.push_str(&rest[..k]);
            rest = &rest[k..];
            let decoded = rest
                .starts_with("\\u")
                .then(|| unit(rest))
                .flatten()
                .and_then(|hi| {
                    let lo = rest[6..]
                        .starts_with("\\u")
                        .then(|| unit(&rest[6..]))
                        .flatten();
                    let used = if (0xD800..0xDC00).contains(&hi) {
                        12
                    } else {
                        6
                    };
                    let c = char::decode_utf16(std::iter::once(hi).chain(lo))
                        .next()?
                        .ok()?;
                    (c as u32 >= 0x80).then_some((c, used))
                });
            let used = match decoded {
                Some((c, used)) => {
                    out.push(c);
                    used
                }
                None => {
                    kept = true;
                    let used = rest[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
                    out.push_str(&rest[..used]);
                    used
                }
            };
            rest = &rest[used..];
        }
        out.push_str(rest);
        kept
    }

    /// Runs of escapes, lone and broken ones, as the reference decodes them.
    #[test]
    fn decoding_escapes_agrees_with_the_reference() {
        use rand::{Rng, SeedableRng};
        let parts = [
            "\\u00e9", "\\u65e0", "\\u0041", "\\ud83d", "\\ude80", "\\u00", "\\uzzzz", "\\\\",
            "\\\"", "\\n", "\\", "u", "a", "é", " ", "\"",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(13);
        for _ in 0..50_000 {
            // Quoted, as every text it is given is a JSON string.
            let body: String = (0..rng.random_range(0..12))
                .map(|_| parts[rng.random_range(0..parts.len())])
                .collect();
            let raw = format!("\"{body}\"");
            let (mut got, mut want) = (String::from("x"), String::from("x"));
            let kept = push_decoding_non_ascii(&mut got, &raw);
            assert_eq!(kept, push_decoding_reference(&mut want, &raw), "{raw:?}");
            assert_eq!(got, want, "{raw:?}");
        }
    }

    #[test]
    fn minify_keeps_string_contents() {
        assert_eq!(
            minify_json(r#"{ "a" : "x y", "b" : [1, 2] }"#),
            r#"{"a":"x y","b":[1,2]}"#
        );
        assert_eq!(minify_json(r#"{"a":"q\" z"}"#), r#"{"a":"q\" z"}"#);
    }
}
