//! A strict, allocation-free scanner for the common shape of an event line: one JSON object whose
//! top-level keys have no escapes. It returns the (key, raw value text) pairs, or `None` whenever
//! it is not sure — any deviation from the JSON grammar, a `\u` escape of half a surrogate pair,
//! top-level keys with escapes, nesting deeper than [`MAX_DEPTH`] — and then serde_json parses
//! the line and decides (and words the error). So a line this scanner accepts is exactly a line
//! serde_json accepts, read the same way.
//!
//! Why not serde_json alone: deserializing into borrowed raw values walks every byte through a
//! generic visitor; this scanner jumps between quotes with `memchr` and was the difference
//! between ~17 % and ~8 % of ingest CPU (measured with perf on the skill stream).

use super::flex::Fields;

/// Nesting deeper than this is left to serde_json (whose own limit is 128).
pub const MAX_DEPTH: usize = 64;

/// The top-level (key, raw value) pairs of `line` into `fields`, if it is a plain JSON object
/// (false: not sure; `fields` then holds a partial list).
pub fn object<'a>(line: &'a str, fields: &mut Fields<'a>) -> bool {
    fields.clear();
    object_fields(line, fields).is_some()
}

fn object_fields<'a>(line: &'a str, fields: &mut Fields<'a>) -> Option<()> {
    let b = line.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let end = string(b, i, false)?;
            let key = ascii_cut(line, i + 1, end - 1);
            i = ws(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = ws(b, i + 1);
            // A value says whether it is written loosely (a string with escapes; an object or
            // array with white space between its tokens), so that reading it need not look.
            let (value_end, loose) = if b.get(i) == Some(&b'"') {
                string_scan(b, i, true).map(|(end, escaped)| (end, escaped.any))?
            } else {
                let mut loose = false;
                (value(b, i, 1, &mut loose)?, loose)
            };
            if !fields.push_plain(key, ascii_cut(line, i, value_end), loose) {
                return None; // more fields than the array holds: serde_json reads this line
            }
            i = ws(b, value_end);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (ws(b, i) == b.len()).then_some(())
}

/// `&line[a..b]` where `a` and `b` are each at an ASCII byte or just after one: char
/// boundaries by construction, so the two boundary checks of a `str` slice (1.4 % of ingest
/// instructions, callgrind) are skipped.
#[inline(always)]
fn ascii_cut(line: &str, a: usize, b: usize) -> &str {
    debug_assert!(line.is_char_boundary(a) && line.is_char_boundary(b) && a <= b);
    let bytes = &line.as_bytes()[a..b];
    // SAFETY: `line` is UTF-8 and `a`, `b` are char boundaries (an ASCII byte is a whole char:
    // a char starts at it and just after it), so the bytes between them are UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// True when `text` is certainly one JSON value (false: not valid, or not sure).
pub fn is_plain_json(text: &str) -> bool {
    let b = text.as_bytes();
    value(b, ws(b, 0), 0, &mut false).is_some_and(|end| ws(b, end) == b.len())
}

/// The index of the first byte at or after `b[i]` that is not JSON white space.
///
/// Most calls find none (compact JSON: before and after every key and value): one compare
/// says so for any byte above the space, which JSON white space never is (the loop's test of
/// four bytes at each of ~55 calls a line was 2 % of the instructions of ingesting the tools
/// shape, callgrind).
#[inline(always)]
pub(crate) fn ws(b: &[u8], mut i: usize) -> usize {
    if b.get(i).is_none_or(|&c| c > b' ') {
        return i;
    }
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// `b[i]` is an opening quote: the index after the closing one (`None` when not sure: a control
/// character, an escape when `escapes` is false, or an escape [`escape_end`] leaves to serde).
#[inline(always)]
pub(crate) fn string(b: &[u8], i: usize, escapes: bool) -> Option<usize> {
    string_scan(b, i, escapes).map(|(end, _)| end)
}

/// The escapes a string held, as [`string_scan`] found them.
#[derive(Clone, Copy, Default)]
pub(crate) struct Escapes {
    /// Any escape.
    pub any: bool,
    /// A `\u` escape.
    pub unicode: bool,
}

/// [`string`], and the escapes the string held.
#[inline(always)]
pub(crate) fn string_scan(b: &[u8], i: usize, escapes: bool) -> Option<(usize, Escapes)> {
    let mut j = i + 1;
    let mut escaped = Escapes::default();
    loop {
        let k = special(b, j)?;
        match b[k] {
            b'"' => return Some((k + 1, escaped)),
            b'\\' if escapes => {
                escaped.any = true;
                escaped.unicode |= b.get(k + 1) == Some(&b'u');
                j = escape_end(b, k)?;
            }
            // A control character (not allowed raw in a JSON string), or an escaped key.
            _ => return None,
        }
    }
}

/// `b[k]` is a backslash in a string: the index after its escape. `None` for an escape JSON
/// does not have, and for a `\u` escape of half a surrogate pair without its other half, which
/// serde_json refuses in a string it decodes (obsq reads it as U+FFFD; see `Flex`).
///
/// `\u` escapes are read here, not left to serde_json: Python's `json.dumps` writes every
/// character outside ASCII as one, and such lines, read by serde_json, took twice the CPU.
#[inline]
fn escape_end(b: &[u8], k: usize) -> Option<usize> {
    match *b.get(k + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(k + 2),
        b'u' => unicode_escape(b, k).map(|(_, used)| k + used),
        _ => None,
    }
}

/// The code point of the `\u` escape at `b[k]` (a surrogate pair joined) and the bytes it takes;
/// `None` when the escape is malformed or half a surrogate pair alone.
pub(crate) fn unicode_escape(b: &[u8], k: usize) -> Option<(u32, usize)> {
    match hex4(b, k + 2)? {
        hi @ 0xD800..=0xDBFF => {
            let lo = (b.get(k + 6..k + 8) == Some(b"\\u")).then(|| hex4(b, k + 8))??;
            (0xDC00..=0xDFFF)
                .contains(&lo)
                .then(|| (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12))
        }
        0xDC00..=0xDFFF => None,
        c => Some((c, 6)),
    }
}

/// The value of the four hex digits at `b[at..]`; `None` when they are not four hex digits.
#[inline]
pub(crate) fn hex4(b: &[u8], at: usize) -> Option<u32> {
    // A table lookup per digit, checked once for all four: `char::to_digit` per digit (its
    // branches) was most of the cost of Python's `json.dumps` text, which escapes every
    // character outside ASCII.
    let d = b.get(at..at + 4)?;
    let (w, x, y, z) = (
        HEX[d[0] as usize],
        HEX[d[1] as usize],
        HEX[d[2] as usize],
        HEX[d[3] as usize],
    );
    ((w | x | y | z) < 16)
        .then_some((w as u32) << 12 | (x as u32) << 8 | (y as u32) << 4 | z as u32)
}

/// The value of each byte as a hex digit, or 16 and above when it is not one.
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b @ b'0'..=b'9' => b - b'0',
            b @ b'a'..=b'f' => b - b'a' + 10,
            b @ b'A'..=b'F' => b - b'A' + 10,
            _ => 0xff,
        };
        c += 1;
    }
    t
};

/// The first `\` in the body of a string already validated as JSON (where no raw `"` or control
/// character can occur): an inline search, cheaper than a `memchr` call for these short texts.
pub(crate) fn backslash(body: &[u8]) -> Option<usize> {
    let n = body.len();
    if n >= 16 {
        return special(body, 0);
    }
    // Most values are names and ids under sixteen bytes: two overlapping words cover them
    // (the general eight-byte loop with its byte tail was 1.3 % of ingest time, perf).
    let first = |w: u64| {
        let hits = zero_bytes(w ^ (ONES * b'\\' as u64));
        (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize)
    };
    let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().unwrap_or_default());
    // Zero-extended: the high bytes are not backslashes.
    let half = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().unwrap_or_default());
    let pair = |a: u64, b: u64, w: usize| first(a).or_else(|| first(b).map(|k| n - w + k));
    match n {
        8.. => pair(word(0), word(n - 8), 8),
        4..8 => pair(half(0) as u64, half(n - 4) as u64, 4),
        _ => body.iter().position(|&c| c == b'\\'),
    }
}

/// The first `"`, `\` or control character at or after `b[i]`: sixteen bytes at a time with SSE2
/// (part of every x86_64 CPU; the last few bytes by one overlapping load), eight at a time (SWAR)
/// elsewhere and in lines under sixteen bytes. Event strings are short, where
/// `memchr`'s set-up costs more than it saves, and this finds control characters in the same pass.
#[inline(always)]
fn special(b: &[u8], i: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    let i = {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        let mut i = i;
        // SAFETY: SSE2 is in the x86_64 baseline; each load reads 16 bytes inside `b` (checked
        // by the loop condition, or `base + 16 == b.len()`) and needs no alignment.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let max_control = _mm_set1_epi8(0x1f);
            let mask_at = |at: usize| {
                let x = _mm_loadu_si128(b.as_ptr().add(at).cast::<__m128i>());
                // Unsigned x <= 0x1f  <=>  min(x, 0x1f) == x.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(x, max_control), x);
                let hits = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                    control,
                );
                _mm_movemask_epi8(hits) as u32
            };
            while i + 16 <= b.len() {
                let mask = mask_at(i);
                if mask != 0 {
                    return Some(i + mask.trailing_zeros() as usize);
                }
                i += 16;
            }
            // The last 1–15 bytes: the line's last sixteen, minus those before `i` (the byte
            // loop below was 3 % of ingest instructions, callgrind).
            if i < b.len() && b.len() >= 16 {
                let base = b.len() - 16;
                let mask = mask_at(base) >> (i - base);
                return (mask != 0).then(|| i + mask.trailing_zeros() as usize);
            }
        }
        i
    };
    special_swar(b, i)
}

/// 0x01 in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// Exact per-byte zero test: 0x80 in each byte of `x` that is zero, nothing elsewhere.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    !(((x & !HIGH).wrapping_add(!HIGH)) | x | !HIGH)
}

/// [`special`] eight bytes at a time, in portable code.
fn special_swar(b: &[u8], mut i: usize) -> Option<usize> {
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let hits = zero_bytes(x ^ (ONES * b'"' as u64))
            | zero_bytes(x ^ (ONES * b'\\' as u64))
            | zero_bytes(x & (ONES * 0xe0));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|k| i + k)
}

/// A value starts at `b[i]`: the index after it. Sets `loose` when the value (an object or
/// array) has white space between its tokens ([`Form`](super::flex::Form)).
fn value(b: &[u8], i: usize, depth: usize, loose: &mut bool) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string(b, i, true),
        b'{' => container(b, i, depth, b'}', loose),
        b'[' => container(b, i, depth, b']', loose),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => number(b, i),
        _ => None,
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    // Byte by byte: a slice comparison would call `memcmp` for four bytes.
    let end = i + word.len();
    let here = b.get(i..end)?;
    (0..word.len()).all(|k| here[k] == word[k]).then_some(end)
}

fn digits(b: &[u8], mut i: usize) -> (usize, bool) {
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i, i > start)
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i).0,
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let (j, any) = digits(b, i + 1);
        if !any {
            return None;
        }
        i = j;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let (j, any) = digits(b, i);
        if !any {
            return None;
        }
        i = j;
    }
    Some(i)
}

/// [`ws`] that sets `loose` when there is white space at `b[i]`: in the common case (none) the
/// same one compare. (A control character there sets it too, and fails the scan.)
#[inline(always)]
fn ws_noting(b: &[u8], i: usize, loose: &mut bool) -> usize {
    if b.get(i).is_none_or(|&c| c > b' ') {
        return i;
    }
    *loose = true;
    ws(b, i)
}

/// An object or array starting at `b[i]`, members validated recursively (`loose`: see
/// [`value`]).
fn container(b: &[u8], i: usize, depth: usize, close: u8, loose: &mut bool) -> Option<usize> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let object = close == b'}';
    let mut i = ws_noting(b, i + 1, loose);
    if b.get(i) == Some(&close) {
        return Some(i + 1);
    }
    loop {
        if object {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            i = ws_noting(b, string(b, i, true)?, loose);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = ws_noting(b, i + 1, loose);
        }
        i = ws_noting(b, value(b, i, depth + 1, loose)?, loose);
        match b.get(i) {
            Some(b',') => i = ws_noting(b, i + 1, loose),
            Some(&c) if c == close => return Some(i + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn object(line: &str) -> Option<Vec<(Cow<'_, str>, &str)>> {
        let mut fields = Fields::new();
        super::object(line, &mut fields).then(|| fields.iter().collect())
    }

    /// Whether the JSON text `v` has no white space outside its strings: the reference for the
    /// scanner's `loose` on objects and arrays, by a walk of its own that only tracks whether it
    /// is inside a string.
    fn compact_by_walk(v: &str) -> bool {
        let (mut in_string, mut escaped) = (false, false);
        for c in v.bytes() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else if c == b'"' {
                in_string = true;
            } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return false;
            }
        }
        true
    }

    /// Whatever the scanner accepts, serde_json accepts too, with the same fields; a string
    /// the scanner calls free of escapes reads the same as when its text is searched for them;
    /// an object or array it calls compact is so by [`compact_by_walk`], and the other way round.
    fn agrees(line: &str) {
        use crate::model::flex::{Flex, Form};
        let mut scanned = Fields::new();
        if super::object(line, &mut scanned) {
            for (k, v, loose) in scanned.iter_scanned() {
                let fast = Flex::from_scanned(v, loose);
                let want = match Flex::from_raw(v) {
                    Flex::Json(t, _) if compact_by_walk(t) => Flex::Json(t, Form::Compact),
                    other => other,
                };
                assert_eq!(fast, want, "{k} in {line}");
                assert!(
                    loose || !(v.starts_with('"') && v.contains('\\')),
                    "{k} in {line}"
                );
            }
        }
        let fast = object(line);
        let serde: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(line).ok();
        if let Some(fields) = &fast {
            let serde = serde.unwrap_or_else(|| panic!("scanner accepted invalid {line:?}"));
            for (k, v) in fields {
                let want = serde.get(k.as_ref()).unwrap();
                let got: serde_json::Value = serde_json::from_str(v).unwrap();
                assert_eq!(&got, want, "{line}");
            }
        }
    }

    /// [`agrees`] on the line, every prefix of it, and every copy with one byte replaced by one
    /// of `bytes`.
    fn agrees_cut_or_corrupted(line: &str, bytes: &[u8]) {
        agrees(line);
        for n in (0..=line.len()).filter(|&n| line.is_char_boundary(n)) {
            agrees(&line[..n]);
        }
        for i in 0..line.len() {
            for &c in bytes {
                let mut v = line.as_bytes().to_vec();
                v[i] = c;
                if let Ok(s) = std::str::from_utf8(&v) {
                    agrees(s);
                }
            }
        }
    }

    #[test]
    fn reads_plain_objects() {
        let line = r#" { "a" : 1.5e-3 , "b":"x\"y\\n","c":{"d":[1,-0,{"e":null}],"f":""},"g":[],"h":true } "#;
        let f = object(line).expect("plain object");
        let keys: Vec<&str> = f.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["a", "b", "c", "g", "h"]);
        assert_eq!(f[1].1, r#""x\"y\\n""#);
        assert_eq!(f[2].1, r#"{"d":[1,-0,{"e":null}],"f":""}"#);
        assert_eq!(object("{}").map(|f| f.len()), Some(0));
        agrees(line);
    }

    #[test]
    fn finds_the_first_special_byte_at_any_position() {
        for len in 0..48 {
            for pos in 0..len {
                for c in [b'"', b'\\', b'\n', 0x1f, 0] {
                    let mut v = vec![b'a'; len];
                    v[pos] = c;
                    if pos + 1 < len {
                        v[pos + 1] = b'"';
                    }
                    assert_eq!(special(&v, 0), Some(pos), "{v:?}");
                    assert_eq!(special_swar(&v, 0), Some(pos), "{v:?}");
                    assert_eq!(special(&v, pos), Some(pos), "{v:?}");
                    // Hits before the start do not count.
                    let next = (pos + 1 < len).then_some(pos + 1);
                    assert_eq!(special(&v, pos + 1), next, "{v:?}");
                }
            }
            let plain: Vec<u8> = (0..len)
                .map(|i| [b'a', 0x20, 0x7f, 0xc3, 0xff][i % 5])
                .collect();
            assert_eq!(special(&plain, 0), None);
            assert_eq!(special_swar(&plain, 0), None);
        }
    }

    #[test]
    fn finds_the_first_backslash_in_a_body() {
        for len in 0..40 {
            assert_eq!(backslash(&vec![b'a'; len]), None);
            for pos in 0..len {
                for second in [None, Some(pos + 1), Some(len - 1)] {
                    let mut v = vec![b'a'; len];
                    v[pos] = b'\\';
                    if let Some(j) = second.filter(|&j| j < len) {
                        v[j] = b'\\';
                    }
                    assert_eq!(backslash(&v), Some(pos), "{v:?}");
                }
            }
        }
    }

    #[test]
    fn defers_anything_doubtful_to_serde() {
        for bad in [
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u004"}"#,
            r#"{"a":"\u00g1"}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":"\ud83d\u0041"}"#,
            r#"{"a":"\ude00"}"#,
            r#"{"a\u0041":1}"#,
            r#"{"a\"b":1}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":[1,]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"{"a":"#,
            r#"{"a""#,
            r#"{a:1}"#,
            "null",
            "[1]",
            "",
        ] {
            assert!(object(bad).is_none(), "accepted {bad:?}");
        }
        assert!(is_plain_json(r#" {"a":[1,"x"]} "#));
        assert!(is_plain_json("12"));
        assert!(!is_plain_json(r#"{"a":1} 2"#));
        assert!(!is_plain_json("not json"));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(70), "]".repeat(70));
        assert!(object(&deep).is_none());
    }

    /// Python's `json.dumps` escapes every character outside ASCII (emoji as surrogate pairs):
    /// the scanner reads such lines as serde_json does; a surrogate alone is left to serde_json.
    #[test]
    fn reads_unicode_escapes_as_serde_does() {
        let line = r#"{"a":"caf\u00e9 \u65e0\u6cd5 \ud83d\ude00","b":{"k\u00e9":["\u0000\u001F\uFFFF"]},"c":"\uD83D\uDE00\\u"}"#;
        let f = object(line).expect("escapes of whole characters");
        assert_eq!(f[0].1, r#""caf\u00e9 \u65e0\u6cd5 \ud83d\ude00""#);
        agrees_cut_or_corrupted(line, b"\"\\ud80Fg ");
    }

    /// Every byte at every place of four: `hex4` reads hex digits of either case, and only them.
    #[test]
    fn hex4_reads_four_hex_digits_and_nothing_else() {
        let reference = |d: &[u8]| -> Option<u32> {
            d.iter()
                .try_fold(0u32, |n, &c| Some(n * 16 + (c as char).to_digit(16)?))
        };
        for at in 0..4 {
            for c in 0..=255u8 {
                let mut d = *b"a1F0";
                d[at] = c;
                assert_eq!(hex4(&d, 0), reference(&d), "{d:?}");
            }
        }
        assert_eq!(hex4(b"\\u00e9", 2), Some(0xe9));
        assert_eq!(hex4(b"\\u00e", 2), None);
    }

    #[test]
    fn agrees_with_serde_on_every_generated_shape() {
        use crate::generate::{SHAPES, Shape, sample};
        for name in SHAPES {
            let shape = Shape::named(name).unwrap();
            for stream in crate::model::Stream::ALL {
                for line in sample(stream, &shape, 400) {
                    agrees(&line);
                }
            }
        }
        // Prefixes and one-byte corruptions of an object-shaped line with escapes in it.
        let shape = Shape::named("objects").unwrap();
        let line = sample(crate::model::Stream::Skill, &shape, 50)
            .into_iter()
            .find(|l| l.contains("\"files\":[") && l.len() < 600)
            .expect("a line with a list of paths");
        agrees_cut_or_corrupted(&line, b"\"\\,}][1 :");
    }

    #[test]
    fn never_accepts_what_serde_rejects() {
        // Every prefix and every one-byte corruption of a realistic line.
        let line = r#"{"timestamp":"2026-11-28T00:32:27.895Z","params":"{\"repo\":\"a/b\"}","duration_ms":296.5,"cache_hit":false,"cuj_id":null,"metadata":{"m":[1,2.5e3,"x"]}}"#;
        agrees_cut_or_corrupted(line, b"\"\\,}]1e :x");
    }
}
