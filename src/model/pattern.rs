//! `error_pattern`: an error message with its variable parts masked, so that messages that differ
//! only in ids, numbers, paths, durations and the like group together.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use regex_automata::meta::Regex;

mod ascii;

/// What each pattern masks, in priority order (earlier patterns win at the same position, as in
/// an alternation).
#[derive(Clone, Copy)]
enum Kind {
    Url,
    Email,
    Uuid,
    Quoted,
    Path,
    Ip,
    Hex,
    Id,
    Duration,
    Number,
}

const PATTERNS: [(Kind, &str); 10] = [
    (Kind::Url, r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\x22<>)]+"),
    (Kind::Email, r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    (
        Kind::Uuid,
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    ),
    (Kind::Quoted, r"'[^']*'|\x22[^\x22]*\x22|`[^`]*`"),
    (
        Kind::Path,
        r"[A-Za-z]:\\[^\s'\x22]+|\[PATH\]|(?:~|\.{1,2})?/[\w.@+-]+(?:/[\w.@+-]+)+/?",
    ),
    (Kind::Ip, r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    (
        Kind::Hex,
        r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b|\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b",
    ),
    (
        Kind::Id,
        r"\b[A-Za-z][A-Za-z0-9]*[-_][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*\b",
    ),
    (
        Kind::Duration,
        r"\b\d+(?:\.\d+)?\s?(?:ms|us|µs|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b",
    ),
    (Kind::Number, r"\b\d+(?:\.\d+)?\b"),
];

/// One search over all patterns that reports which one matched: the same matches as the
/// alternation of named groups this replaced, without resolving capture groups (a bounded
/// backtracker run per match, the larger part of the cost on unseen messages).
fn masker() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new_many(&PATTERNS.map(|(_, p)| p)).expect("static error-pattern regexes are valid")
    })
}

fn mask(kind: Kind, m: &str, out: &mut String) {
    let token = match kind {
        Kind::Url => "<url>",
        Kind::Email => "<email>",
        Kind::Uuid => "<uuid>",
        Kind::Quoted => {
            let quote = &m[..1];
            out.push_str(quote);
            out.push_str("<str>");
            out.push_str(quote);
            return;
        }
        Kind::Path => "<path>",
        Kind::Ip => "<ip>",
        // Short hex-looking words ("cafe1", "a1") are kept unless they are long enough to be ids.
        Kind::Hex if m.len() < 8 && !m.starts_with("0x") => {
            if m.bytes().all(|b| b.is_ascii_digit()) {
                "<n>"
            } else {
                m
            }
        }
        Kind::Hex => "<hex>",
        // Names such as gpt-4o or claude-3-5-sonnet stay readable; ids carry several digits.
        Kind::Id if m.bytes().filter(u8::is_ascii_digit).count() < 3 => m,
        Kind::Id => "<id>",
        Kind::Duration => "<duration>",
        Kind::Number => "<n>",
    };
    out.push_str(token);
}

/// Bytes at the head of an error text its pattern is made of. Grouping wants the message and the
/// first frames of a stack trace, not all of its multi-KB frames (the original metrics tracker
/// kept only the first 500 UTF-16 units of an error), and masking a whole trace was the largest
/// single cost of ingesting long texts.
pub const PATTERN_HEAD_BYTES: usize = 1024;

/// What a pattern of a longer text ends with: it was made of the text's head only.
pub const CUT_MARK: &str = " …";

/// The head of `text` its pattern is made of, and whether that is less than all of it: the first
/// [`PATTERN_HEAD_BYTES`], cut back to the last whitespace so that no word is split.
fn head(text: &str) -> (&str, bool) {
    if text.len() <= PATTERN_HEAD_BYTES {
        return (text, false);
    }
    let head = &text[..text.floor_char_boundary(PATTERN_HEAD_BYTES)];
    match head.rfind(char::is_whitespace) {
        Some(i) if i > 0 => (&head[..i], true),
        _ => (head, true),
    }
}

/// Masks the variable parts of an error message (of its first [`PATTERN_HEAD_BYTES`]; a longer
/// text's pattern ends with [`CUT_MARK`]).
pub fn error_pattern(text: &str) -> String {
    let (text, cut) = head(text);
    let mut masked = String::with_capacity(text.len());
    let mut last = 0;
    let mut add = |start: usize, end: usize, pattern: usize| {
        masked.push_str(&text[last..start]);
        mask(PATTERNS[pattern].0, &text[start..end], &mut masked);
        last = end;
    };
    let ascii = text.is_ascii();
    if ascii {
        ascii::find_iter(text, add);
    } else {
        for m in masker().find_iter(text) {
            add(m.start(), m.end(), m.pattern().as_usize());
        }
    }
    masked.push_str(&text[last..]);
    let mut out = String::with_capacity(masked.len());
    if ascii {
        ascii::push_words(&masked, &mut out);
    } else {
        for word in masked.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    if cut {
        out.push_str(CUT_MARK);
    }
    out
}

/// Bytes of patterns the per-thread cache of [`error_pattern_cached`] holds before it starts over.
const CACHE_BYTES: usize = 8 << 20;

/// The per-thread memo of [`error_pattern_cached`]: patterns by the xxh3-128 hash of their text
/// (the hash events are identified by, `model::identity`), so that a miss on a unique multi-KB
/// stack trace copies no text into it, and bounded by the bytes it holds, not by a count.
#[derive(Default)]
struct PatternCache {
    patterns: HashMap<u128, String, foldhash::fast::RandomState>,
    bytes: usize,
}

/// [`error_pattern`] with a per-thread cache: error messages repeat a lot.
pub fn error_pattern_cached(text: &str) -> String {
    with_error_pattern(text, str::to_string)
}

/// [`error_pattern_cached`], the pattern handed to `read` where it lies in the cache: a hit
/// allocates and copies nothing (the `String` of each hit, allocated, copied into a column and
/// freed, was ~0.8 % of the CPU of ingesting the tools shape, perf).
pub fn with_error_pattern<R>(text: &str, read: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        static CACHE: RefCell<PatternCache> = RefCell::default();
    }
    let key = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
    // Through a pointer, not a closure handed to `with` (see `sanitize::through_memo`).
    let cache: *const RefCell<PatternCache> = CACHE.with(std::ptr::from_ref);
    // SAFETY: this thread's cache, which lives until the thread ends, so for all of this call.
    let mut cache = unsafe { &*cache }.borrow_mut();
    if let Some(p) = cache.patterns.get(&key) {
        return read(p);
    }
    let p = error_pattern(text);
    let cost = p.len() + 48;
    if cache.bytes + cost > CACHE_BYTES {
        cache.patterns.clear();
        cache.bytes = 0;
    }
    cache.bytes += cost;
    read(cache.patterns.entry(key).or_insert(p))
}

#[cfg(test)]
mod tests {
    use super::error_pattern as p;
    use rand::{Rng, SeedableRng};
    use regex::{Captures, Regex};

    /// The implementation this module had before (one alternation of named groups, resolved
    /// with captures): the new one must give the same pattern for every message.
    fn reference(re: &Regex, text: &str) -> String {
        let masked = re.replace_all(text, reference_mask);
        masked.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn reference_regex() -> Regex {
        Regex::new(concat!(
            r"(?P<url>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\x22<>)]+)",
            r"|(?P<email>\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b)",
            r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
            r"|(?P<quoted>'[^']*'|\x22[^\x22]*\x22|`[^`]*`)",
            r"|(?P<path>[A-Za-z]:\\[^\s'\x22]+|\[PATH\]|(?:~|\.{1,2})?/[\w.@+-]+(?:/[\w.@+-]+)+/?)",
            r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b)",
            r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b|\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b)",
            r"|(?P<id>\b[A-Za-z][A-Za-z0-9]*[-_][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*\b)",
            r"|(?P<dur>\b\d+(?:\.\d+)?\s?(?:ms|us|µs|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b)",
            r"|(?P<num>\b\d+(?:\.\d+)?\b)",
        ))
        .unwrap()
    }

    fn reference_mask(c: &Captures) -> String {
        let digits_only = |w: &str| {
            if w.bytes().all(|b| b.is_ascii_digit()) {
                "<n>".to_string()
            } else {
                w.to_string()
            }
        };
        if c.name("url").is_some() {
            "<url>".into()
        } else if c.name("email").is_some() {
            "<email>".into()
        } else if c.name("uuid").is_some() {
            "<uuid>".into()
        } else if let Some(q) = c.name("quoted") {
            let quote = &q.as_str()[..1];
            format!("{quote}<str>{quote}")
        } else if c.name("path").is_some() {
            "<path>".into()
        } else if c.name("ip").is_some() {
            "<ip>".into()
        } else if let Some(h) = c.name("hex") {
            if h.as_str().len() < 8 && !h.as_str().starts_with("0x") {
                digits_only(h.as_str())
            } else {
                "<hex>".into()
            }
        } else if let Some(id) = c.name("id") {
            if id.as_str().bytes().filter(u8::is_ascii_digit).count() < 3 {
                id.as_str().to_string()
            } else {
                "<id>".into()
            }
        } else if c.name("dur").is_some() {
            "<duration>".into()
        } else {
            "<n>".into()
        }
    }

    #[test]
    fn same_patterns_as_the_alternation_it_replaced() {
        let fragments = [
            "Timeout after 30000ms",
            "retry after 12s",
            "(429)",
            "exit code 103",
            "Step 3",
            "'/home/alice/src/index.ts'",
            "\"users_12\"",
            "`cmd`",
            "/var/tmp/x.log",
            "C:\\Users\\bob\\out.js",
            "[PATH]",
            "~/a/b",
            "../x/y/",
            "run-005",
            "req_0a1b2c3d4e5f",
            "bob@example.com",
            "10.0.0.12:8080",
            "10.0.0.256",
            "3f9a2c7e1b4d5a60",
            "cafe1",
            "a1",
            "0xDEADbeef",
            "123e4567-e89b-12d3-a456-426614174000",
            "https://api.x.com/v1?q=1",
            "gpt-4o",
            "claude-3-5-sonnet",
            "6.5/10",
            "and/or",
            "42",
            "4.5",
            "12 MB",
            "5 minutes",
            "3 h",
            "7days",
            "µs",
            "17µs",
            "Ünïcödé-123",
            "日本語 45",
            "ﾃｽﾄ",
            "x",
            "-",
            ".",
            ":",
            "'",
            "\"",
            "`",
            "é5",
            "5é",
            "ab_12_34",
            "A-1-2-3",
            "sk-",
            "1e5",
            "v2",
            "node_modules/a",
        ];
        let seps = [
            " ", "", ": ", ", ", "/", "-", "(", ")", "\t", "  ", "'", ".",
        ];
        let mut corpus: Vec<String> = fragments.iter().map(|f| f.to_string()).collect();
        for a in fragments {
            for b in fragments {
                corpus.push(format!("{a} {b}"));
            }
        }
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..rng.random_range(1..7) {
                s.push_str(fragments[rng.random_range(0..fragments.len())]);
                s.push_str(seps[rng.random_range(0..seps.len())]);
            }
            corpus.push(s);
        }
        let re = reference_regex();
        for text in &corpus {
            assert_eq!(p(text), reference(&re, text), "{text:?}");
        }
    }

    /// On ASCII texts the hand-written matcher finds every match the regex finds, of the same
    /// pattern at the same place: texts of every ASCII byte, biased towards the characters the
    /// patterns are made of.
    #[test]
    fn the_ascii_matcher_matches_as_the_regex_on_ascii_texts() {
        let alphabet: Vec<u8> = (0u8..128)
            .chain(*b"0123456789abcdefxyzABXZ_-./:@'`~\\   msuhd")
            .chain(b"0123456789 .".repeat(4))
            .collect();
        let pieces = [
            "https://",
            "0x",
            "ms",
            "secs",
            "minutes",
            "[PATH]",
            "C:\\",
            "../",
            "~/",
            "@a.b",
            "123e4567-e89b-12d3-a456-426614174000",
            "10.0.0.1:80",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        let unicode = super::masker();
        let mut matches = 0;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..rng.random_range(1..40) {
                if rng.random_range(0..6) == 0 {
                    s.push_str(pieces[rng.random_range(0..pieces.len())]);
                } else {
                    s.push(alphabet[rng.random_range(0..alphabet.len())] as char);
                }
            }
            assert!(s.is_ascii());
            let want: Vec<_> = unicode
                .find_iter(&s)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            let mut got = Vec::new();
            super::ascii::find_iter(&s, |start, end, pattern| got.push((start, end, pattern)));
            matches += want.len();
            assert_eq!(got, want, "{s:?}");
        }
        assert!(matches > 50_000, "{matches} matches");
    }

    #[test]
    fn the_cache_gives_the_uncached_pattern_across_its_byte_bound() {
        // Long unique texts push the cache past its bound several times; repeats of earlier
        // texts must still give their own pattern, never a neighbour's.
        let texts: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    "TypeError {i}: 'x' is undefined{}",
                    "\n    at f (/a/b.js:1:2)".repeat(i % 97 * 20)
                )
            })
            .collect();
        for round in 0..2 {
            for t in &texts {
                assert_eq!(super::error_pattern_cached(t), p(t), "round {round}");
            }
        }
    }

    #[test]
    fn a_long_text_is_masked_by_its_head() {
        let frame = "\n    at Server.handle (/srv/app/node_modules/x/dist/y.js:120:7)";
        let trace =
            |n: usize, tail: &str| format!("TypeError: 'a' is undefined{}{tail}", frame.repeat(n));
        // Up to the bound the whole text counts, and nothing marks the pattern.
        let short = trace(10, "");
        assert!(short.len() <= super::PATTERN_HEAD_BYTES);
        assert!(!p(&short).ends_with(super::CUT_MARK));
        // Past it, traces that differ only after the head share one pattern, marked as cut,
        // equal to the pattern of the head cut at a word boundary.
        let (a, b) = (trace(60, " at a.js:1"), trace(70, " at b.js:2"));
        assert_eq!(p(&a), p(&b));
        let cut = &a[..a[..super::PATTERN_HEAD_BYTES]
            .rfind(char::is_whitespace)
            .unwrap()];
        assert_eq!(p(&a), format!("{}{}", p(cut), super::CUT_MARK));
        // A head with no whitespace, or ending inside a multi-byte character, is still cut
        // on a character boundary.
        let word = "€".repeat(500);
        assert!(p(&word).ends_with(super::CUT_MARK));
        assert!(p(&word).len() <= super::PATTERN_HEAD_BYTES + super::CUT_MARK.len());
    }

    #[test]
    fn variable_parts_are_masked() {
        assert_eq!(p("Timeout after 30000ms"), "Timeout after <duration>");
        assert_eq!(p("Timeout after 12000ms"), "Timeout after <duration>");
        assert_eq!(
            p("Rate limit exceeded (429), retry after 12s"),
            "Rate limit exceeded (<n>), retry after <duration>"
        );
        assert_eq!(
            p("Step 3 failed: exit code 103"),
            "Step <n> failed: exit code <n>"
        );
        assert_eq!(
            p("ENOENT: no such file or directory, open '/home/alice/project/src/index.ts'"),
            "ENOENT: no such file or directory, open '<str>'"
        );
        assert_eq!(p("open /var/tmp/x.log failed"), "open <path> failed");
        assert_eq!(p("C:\\Users\\bob\\out.js not found"), "<path> not found");
        assert_eq!(
            p("run run-005 for bob@example.com at 10.0.0.12:8080"),
            "run <id> for <email> at <ip>"
        );
        assert_eq!(p("request 3f9a2c7e1b4d5a60 failed"), "request <hex> failed");
        assert_eq!(p("id 123e4567-e89b-12d3-a456-426614174000"), "id <uuid>");
        assert_eq!(p("GET https://api.x.com/v1?q=1 failed"), "GET <url> failed");
        assert_eq!(p("gpt-4o returned  500"), "gpt-4o returned <n>");
        assert_eq!(p("and/or 6.5/10"), "and/or <n>/<n>");
    }
}
