//! Secret redaction. Applied by `record` and again by ingest to every free-text and JSON field
//! (`error`, `message`, `params`, `metadata`, `extra`): credential-named keys at any depth and
//! secret-shaped values are replaced by `[REDACTED]`. The rules are listed in the README.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde_json::Value;

use super::flex::{Form, push_decoding_non_ascii};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Substrings without which no rule can match: text that has none of them is left as it is,
/// which keeps the common case (no secret) cheap.
const TRIGGERS: &[&str] = &[
    "bearer",
    "authorization",
    "-----begin",
    "://",
    "eyj",
    "sk-",
    "sk_",
    "rk_",
    "akia",
    "asia",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
    "aiza",
    "npm_",
    "hf_",
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "cookie",
    "\\u",
    // An escaped slash: JSON may write `://` as `:\/\/` (PHP's `json_encode` does), which hid
    // the credentials of a URL in a JSON field from the search for `://`.
    "\\/",
    "[redacted].",
];

/// ASCII lower-casing as a table (other bytes map to themselves).
const FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// One bit per byte pair that some trigger starts with, ignoring ASCII case: bit `a << 8 | b`
/// is set when `a b` folded is a trigger's first two bytes. Folding is in the table, not in the
/// scan: a dependent table load less per byte.
static TRIGGER_STARTS: [u64; 1024] = {
    let mut bits = [0u64; 1024];
    let mut t = 0;
    while t < TRIGGERS.len() {
        let tb = TRIGGERS[t].as_bytes();
        // Each of the first two bytes as written and upper-cased (triggers are lower case).
        let (a, b) = (tb[0], tb[1]);
        let cases = [
            (a, b),
            (a.to_ascii_uppercase(), b),
            (a, b.to_ascii_uppercase()),
            (a.to_ascii_uppercase(), b.to_ascii_uppercase()),
        ];
        let mut c = 0;
        while c < cases.len() {
            let pair = (cases[c].0 as usize) << 8 | cases[c].1 as usize;
            bits[pair >> 6] |= 1 << (pair & 63);
            c += 1;
        }
        t += 1;
    }
    bits
};

/// For each byte, the triggers (bits as in [`trigger_mask`]) that start with it, ignoring ASCII
/// case: a candidate position is compared with those few, not with all thirty.
static TRIGGERS_BY_FIRST: [u64; 256] = {
    let mut by_first = [0u64; 256];
    let mut t = 0;
    while t < TRIGGERS.len() {
        let first = TRIGGERS[t].as_bytes()[0];
        by_first[first as usize] |= 1 << t;
        by_first[first.to_ascii_uppercase() as usize] |= 1 << t;
        t += 1;
    }
    by_first
};

/// True when some trigger starts with the bytes `a b`, ignoring ASCII case.
#[inline(always)]
fn starts_with_pair(a: u8, b: u8) -> bool {
    let pair = (a as usize) << 8 | b as usize;
    TRIGGER_STARTS[pair >> 6] >> (pair & 63) & 1 != 0
}

/// True when `text` contains a trigger, ignoring ASCII case.
///
/// Hand-written rather than aho-corasick's DFA (which this replaced): most texts are short
/// (a metadata object per event), where the automaton's per-call set-up and per-byte state
/// walk cost ~16 instructions a byte (callgrind); a table of the triggers' first byte pairs
/// rejects almost every position in a few instructions, and the rare candidate is compared
/// with the triggers directly. A test checks both agree.
fn may_hold_secret(text: &str) -> bool {
    let b = text.as_bytes();
    pair_starts(b, Search::All, |i| trigger_at(&b[i..]))
}

/// [`may_hold_secret`], with `\u` not counted as a trigger.
fn may_hold_secret_but_u(text: &str) -> bool {
    let b = text.as_bytes();
    pair_starts(b, Search::ButU, |i| trigger_at_but(&b[i..], 1 << U_ESCAPE))
}

/// True when `rest` starts with a trigger, ignoring ASCII case.
fn trigger_at(rest: &[u8]) -> bool {
    trigger_at_but(rest, 0)
}

/// [`trigger_at`], the triggers of the bits of `but` (as in [`trigger_mask`]) not counted.
#[inline(always)]
fn trigger_at_but(rest: &[u8], but: u64) -> bool {
    let mut candidates = rest.first().map_or(0, |&c| TRIGGERS_BY_FIRST[c as usize]) & !but;
    while candidates != 0 {
        let t = TRIGGERS[candidates.trailing_zeros() as usize].as_bytes();
        candidates &= candidates - 1;
        if rest.len() >= t.len() && rest.iter().zip(t).all(|(&x, &y)| FOLD[x as usize] == y) {
            return true;
        }
    }
    false
}

/// The triggers `text` contains, ignoring ASCII case: bit `i` for `TRIGGERS[i]` (for text known
/// to hold one: the rules' path). [`pair_starts`] finds the candidate positions; aho-corasick's
/// overlapping search was no faster here and, as a direct dependency, changed the features of
/// `memchr` under the whole build.
fn trigger_mask(text: &str) -> u64 {
    let b = text.as_bytes();
    let mut mask = 0u64;
    pair_starts(b, Search::All, |i| {
        let rest = &b[i..];
        let mut candidates = TRIGGERS_BY_FIRST[rest[0] as usize];
        while candidates != 0 {
            let t = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let trigger = TRIGGERS[t];
            let t_bytes = trigger.as_bytes();
            if rest.len() >= t_bytes.len()
                && rest
                    .iter()
                    .zip(t_bytes)
                    .all(|(&x, &y)| FOLD[x as usize] == y)
            {
                mask |= 1 << t;
                if ASSIGNED_WORDS.contains(&trigger) && assigned(&rest[t_bytes.len()..]) {
                    mask |= ASSIGNED;
                }
            }
        }
        false
    });
    mask
}

/// The triggers a search looks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Search {
    /// All of them.
    All,
    /// All but `\u`: in Python's `json.dumps` text every character outside ASCII is one, and
    /// each was a candidate to check (2.6 % of the instructions of ingesting the python shape,
    /// callgrind).
    ButU,
}

/// Calls `at(i)`, in order, at each `i` where `b[i] b[i + 1]` is the start of some trigger
/// (ignoring ASCII case) — except, in long texts, where the next byte rules every trigger of
/// `search` out — until it returns true; returns whether it did. Every `i` where a whole
/// trigger of `search` starts is called.
fn pair_starts(b: &[u8], search: Search, mut at: impl FnMut(usize) -> bool) -> bool {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    if b.len() >= pair_scan::BLOCK + 2 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above), and `b` holds a block.
        match unsafe { pair_scan::blocks(b, search, &mut at) } {
            Ok(found) => return found,
            Err(tail) => i = tail,
        }
    }
    while i + 1 < b.len() {
        if starts_with_pair(b[i], b[i + 1]) && at(i) {
            return true;
        }
        i += 1;
    }
    false
}

/// [`pair_starts`] thirty-two positions at a time: a long text (a stack trace of a few KB) was
/// 3 % of ingest CPU with one table lookup per byte (perf, long-text shape). Sixteen at a time
/// (SSSE3), the loop was 4-6 % of the instructions of ingesting the objects and unique shapes
/// (callgrind), whose `params` and `metadata` are searched whole.
///
/// The filter is Teddy's (the SIMD literal search of Hyperscan and of the `aho-corasick`
/// crate, whose packed searcher needs each ASCII case variant of a pattern as a pattern of its
/// own: 2^13 of `authorization`): each trigger goes to one of eight buckets (see `bucket`),
/// and six 16-entry tables give, for the low and the high nibble of a position's byte and of
/// the two after it, the buckets whose triggers (in either ASCII case) may have that nibble
/// there; a position all six agree on is a candidate, which the exact pair table checks.
/// With two bytes, as first written, about 7 % of positions of prose and code were candidates
/// and 2.5 % real pair starts (`to`, `co`, `se`, `ke` are common), each compared with the
/// triggers; the third byte leaves few of those.
#[cfg(target_arch = "x86_64")]
mod pair_scan {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_loadu_si128, _mm256_and_si256, _mm256_broadcastsi128_si256,
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
        _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16,
    };

    use super::{Search, TRIGGERS, U_ESCAPE, starts_with_pair};

    /// Positions a block tests at once.
    pub(super) const BLOCK: usize = 32;

    /// A trigger's bucket: by its first byte, in 0..7; the triggers of two bytes (`\u` and
    /// `\/`, whose third byte may be anything) have bucket 7 to themselves, so that they let no
    /// other trigger's candidates through on any third byte.
    const fn bucket(trigger: &[u8]) -> u8 {
        if trigger.len() < 3 {
            7
        } else {
            (trigger[0] & 7) % 7
        }
    }

    /// Bucket bits by nibble, for [`Search::All`] and [`Search::ButU`]: see [`nibbles`].
    static NIBBLES: [[[u8; 16]; 6]; 2] = [nibbles(usize::MAX), nibbles(U_ESCAPE)];

    /// Bucket bits by nibble: the low and high nibbles of a trigger's first byte, then of its
    /// second and of its third (every nibble for a trigger of two bytes); the trigger
    /// `TRIGGERS[leave_out]` left out.
    const fn nibbles(leave_out: usize) -> [[u8; 16]; 6] {
        let mut t = [[0u8; 16]; 6];
        let mut k = 0;
        while k < TRIGGERS.len() {
            if k == leave_out {
                k += 1;
                continue;
            }
            let tb = TRIGGERS[k].as_bytes();
            let bit = 1u8 << bucket(tb);
            let mut at = 0;
            while at < 3 {
                if at < tb.len() {
                    // Triggers are lower case: each byte as written and upper-cased.
                    let cases = [tb[at], tb[at].to_ascii_uppercase()];
                    let mut c = 0;
                    while c < 2 {
                        t[2 * at][(cases[c] & 15) as usize] |= bit;
                        t[2 * at + 1][(cases[c] >> 4) as usize] |= bit;
                        c += 1;
                    }
                } else {
                    let mut nibble = 0;
                    while nibble < 16 {
                        t[2 * at][nibble] |= bit;
                        t[2 * at + 1][nibble] |= bit;
                        nibble += 1;
                    }
                }
                at += 1;
            }
            k += 1;
        }
        t
    }

    /// Runs [`super::pair_starts`] over the positions of `b` that have two bytes after them,
    /// [`BLOCK`] at a time: `Ok(found)` when `at` returned true, else `Err(i)`, the first
    /// position left for the caller (the last but one of `b`).
    ///
    /// # Safety
    /// The CPU must have AVX2, and `b` must hold `BLOCK + 2` bytes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn blocks(
        b: &[u8],
        search: Search,
        at: &mut impl FnMut(usize) -> bool,
    ) -> Result<bool, usize> {
        debug_assert!(b.len() >= BLOCK + 2);
        // SAFETY: each load reads 32 bytes inside `b` (`i + BLOCK + 2 <= b.len()`: the second
        // and third loads start one and two bytes later) and needs no alignment; the tables are
        // 16 bytes each, the same table in both 128-bit lanes (a byte shuffle stays in its lane).
        unsafe {
            let tables = &NIBBLES[(search == Search::ButU) as usize];
            let table = |n: usize| {
                _mm256_broadcastsi128_si256(_mm_loadu_si128(tables[n].as_ptr().cast::<__m128i>()))
            };
            let (lo0, hi0, lo1, hi1) = (table(0), table(1), table(2), table(3));
            let (lo2, hi2) = (table(4), table(5));
            let low = _mm256_set1_epi8(0x0f);
            let buckets = |x: __m256i, lo: __m256i, hi: __m256i| {
                let l = _mm256_shuffle_epi8(lo, _mm256_and_si256(x, low));
                let h = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16::<4>(x), low));
                _mm256_and_si256(l, h)
            };
            // Bit k: position `i + k` is a candidate.
            let candidates = |i: usize| {
                let load = |k: usize| _mm256_loadu_si256(b.as_ptr().add(i + k).cast::<__m256i>());
                let all = _mm256_and_si256(
                    _mm256_and_si256(buckets(load(0), lo0, hi0), buckets(load(1), lo1, hi1)),
                    buckets(load(2), lo2, hi2),
                );
                !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(all, _mm256_setzero_si256())) as u32)
            };
            let mut visit = |i: usize, mut hits: u32| {
                while hits != 0 {
                    let j = i + hits.trailing_zeros() as usize;
                    hits &= hits - 1;
                    if starts_with_pair(b[j], b[j + 1]) && at(j) {
                        return true;
                    }
                }
                false
            };
            let mut i = 0;
            while i + BLOCK + 2 <= b.len() {
                if visit(i, candidates(i)) {
                    return Ok(true);
                }
                i += BLOCK;
            }
            // The positions left that have two bytes after them: a last block that ends where
            // `b` does, less the positions before `i` (already seen).
            let last = b.len() - BLOCK - 2;
            if i < b.len() - 2 && visit(i, candidates(last) >> (i - last)) {
                return Ok(true);
            }
            Err(b.len() - 2)
        }
    }
}

/// The triggers inside the credential words of the `key = value` rule.
const ASSIGNED_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "authorization",
    "credential",
    "cookie",
];

/// The bit of [`trigger_mask`] for "one of [`ASSIGNED_WORDS`] may be followed by `=` or `:`",
/// which the `key = value` rule needs: a stack trace naming `token.js` or `keys/` holds the
/// trigger but no assignment, and that rule's regex over 3 KB of trace (it has no literal to
/// look for first) was most of the sanitizer's time on such lines (perf, long-text shape).
const ASSIGNED: u64 = 1 << 63;

/// Whether `after` (the text after an [`ASSIGNED_WORDS`] trigger) may start the rest of a
/// credential word and then `["']?\s*[=:]`, as the rule's regex wants: letters (`password`
/// after `pass`), a quote, white space (any non-ASCII byte counts as possible Unicode white
/// space), then `=` or `:`. A superset of the regex's matches, never a subset.
fn assigned(after: &[u8]) -> bool {
    let mut i = after.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if let Some(b'"' | b'\'') = after.get(i) {
        i += 1;
    }
    while let Some(&c) = after.get(i) {
        if !(c.is_ascii_whitespace() || c == 0x0b || c >= 0x80) {
            break;
        }
        i += 1;
    }
    matches!(after.get(i), Some(b'=' | b':'))
}

/// The mask of the named triggers (each must be one of `TRIGGERS`).
fn mask_of(triggers: &[&str]) -> u64 {
    triggers.iter().fold(0, |m, t| {
        let i = TRIGGERS.iter().position(|x| x == t);
        m | 1 << i.expect("a rule's trigger is one of TRIGGERS")
    })
}

struct Rule {
    re: Regex,
    replace: fn(&Captures) -> String,
    /// The triggers of which the text must hold one for the rule to match: a rule runs only
    /// then. A 3 KB stack trace naming `auth.js` holds a trigger, and running all fifteen
    /// patterns over it was 11 % of ingest CPU on such failures (perf, long-text shape).
    needs: u64,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |needs: &[&str], pattern: &str, replace: fn(&Captures) -> String| Rule {
            re: Regex::new(pattern).expect("static sanitizer pattern is valid"),
            replace,
            needs: mask_of(needs),
        };
        let whole: fn(&Captures) -> String = |_| REDACTED.to_string();
        vec![
            r(&["-----begin"], r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", whole),
            r(&["://"], r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/:@]+:[^\s/@]+@", |c| format!("{}{REDACTED}@", &c[1])),
            r(&["bearer"], r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+", |c| format!("{} {REDACTED}", &c[1])),
            r(&["authorization"], r"(?i)(authorization:\s*basic)\s+[A-Za-z0-9+/=]+", |c| format!("{} {REDACTED}", &c[1])),
            r(&["eyj"], r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", whole),
            r(&["sk-"], r"\bsk-[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*", whole),
            r(&["sk_", "rk_"], r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{8,}", whole),
            r(&["akia", "asia"], r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", whole),
            r(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{6,}", whole),
            r(&["github_pat_"], r"\bgithub_pat_[A-Za-z0-9_]{10,}", whole),
            r(&["xox"], r"\bxox[abposr]-[A-Za-z0-9-]{6,}", whole),
            r(&["aiza"], r"\bAIza[0-9A-Za-z_-]{30,}", whole),
            r(&["npm_", "hf_"], r"\b(?:npm|hf)_[A-Za-z0-9]{20,}", whole),
            Rule {
                // Gated by the assignment bit, not by its words' triggers.
                needs: ASSIGNED,
                ..r(
                &[],
                r#"(?i)\b((?:[a-z0-9]+[_-])*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|credentials?|cookie))(["']?\s*[=:]\s*)(\[REDACTED\]|"[^"]*"|'[^']*'|[^\s,;&"'\])}]+)"#,
                |c| {
                    let value = &c[3];
                    let lower = value.to_ascii_lowercase();
                    if value == REDACTED || lower == "bearer" || lower == "basic" {
                        return c[0].to_string();
                    }
                    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'');
                    match quote {
                        Some(q) => format!("{}{}{q}{REDACTED}{q}", &c[1], &c[2]),
                        None => format!("{}{}{REDACTED}", &c[1], &c[2]),
                    }
                },
            )
            },
            // The original tool's `Bearer`/`token=` redaction stopped at the first `.`, leaving a
            // JWT's payload and signature (`[REDACTED].eyJ….sig`): those parts go too.
            r(&["[redacted]."], r"\[REDACTED\](?:\.[A-Za-z0-9_-]{2,}){1,2}", whole),
        ]
    })
}

/// Redacts secret-shaped values inside free text.
pub fn sanitize_text(text: &str) -> Cow<'_, str> {
    if !may_hold_secret(text) {
        return Cow::Borrowed(text);
    }
    memoized(Memo::Text, text, apply_rules)
}

fn apply_rules(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    let mut mask = trigger_mask(text);
    for rule in rules() {
        if rule.needs & mask != 0 && rule.re.is_match(&out) {
            out = Cow::Owned(rule.re.replace_all(&out, rule.replace).into_owned());
            // A replacement can make a later rule's trigger (`[REDACTED].` after `Bearer`).
            mask = trigger_mask(&out);
        }
    }
    out
}

/// What a [`memoized`] cache holds (one cache per kind).
#[derive(Clone, Copy)]
pub(crate) enum Memo {
    /// [`sanitize_text`] of texts with a trigger.
    Text = 0,
    /// [`sanitize_json`] of JSON with a trigger.
    Json = 1,
    /// JSON given as a string literal, quotes and escapes included (the original logger's
    /// `params`), to canonical JSON text.
    JsonInString = 2,
}

/// Bytes of results each per-thread [`memoized`] cache holds before it starts over.
const MEMO_BYTES: usize = 8 << 20;

/// Results each per-thread [`memoized`] cache holds before it starts over (short texts).
const MEMO_ENTRIES: usize = 20_000;

/// One [`memoized`] cache: results by the xxh3-128 hash of their input (as `error_pattern`'s
/// cache, so that a miss on a unique multi-KB text copies no input into it), `None` where the
/// input came back unchanged, bounded by the bytes it holds as well as by a count of entries
/// (20 000 entries of 4 KiB texts were 160 MiB per thread and kind).
#[derive(Default)]
struct MemoCache {
    results: std::collections::HashMap<u128, Option<String>, foldhash::fast::RandomState>,
    bytes: usize,
}

/// Runs `f` through a per-thread cache: texts that hold a trigger word (`max_tokens` in every
/// params object, the same error messages over and over) repeat a lot, and the rules are the
/// costly part of sanitizing.
pub(crate) fn memoized<'t>(kind: Memo, text: &'t str, f: fn(&str) -> Cow<'_, str>) -> Cow<'t, str> {
    match through_memo(kind, text, f, Option::clone) {
        Some(o) => Cow::Owned(o),
        None => Cow::Borrowed(text),
    }
}

/// [`memoized`], the result appended to `out`: a hit copies the cached text into a buffer the
/// caller keeps, where [`memoized`] allocates a `String` for it.
pub(crate) fn memoized_into(kind: Memo, text: &str, f: fn(&str) -> Cow<'_, str>, out: &mut String) {
    through_memo(kind, text, f, |o| {
        out.push_str(o.as_deref().unwrap_or(text))
    });
}

/// Looks `text` up in the per-thread cache of `kind` (running `f` and keeping its result on a
/// miss) and hands `read` the result: `None` where `f` returned its input unchanged.
fn through_memo<R>(
    kind: Memo,
    text: &str,
    f: fn(&str) -> Cow<'_, str>,
    mut read: impl FnMut(&Option<String>) -> R,
) -> R {
    thread_local! {
        static CACHE: std::cell::RefCell<[MemoCache; 3]> = std::cell::RefCell::new(Default::default());
    }
    let kind = kind as usize;
    let changed = |out: Cow<'_, str>| match out {
        Cow::Borrowed(_) => None,
        Cow::Owned(o) => Some(o),
    };
    if text.len() > 4096 {
        return read(&changed(f(text)));
    }
    let key = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
    // The cache is reached through a pointer that `with` hands out, not by closures passed to
    // it: `with` holding the lookup was inlined into the hot loop in one build and called in the
    // next, as unrelated code changed (+0.7 % instructions, +1.4 % ingest CPU, tools shape).
    let cache: *const std::cell::RefCell<[MemoCache; 3]> = CACHE.with(std::ptr::from_ref);
    // SAFETY: this thread's cache, which lives until the thread ends, so for all of this call.
    let cache = unsafe { &*cache };
    if let Some(r) = cache.borrow()[kind].results.get(&key).map(&mut read) {
        return r;
    }
    // `f` may sanitize nested texts through this cache: no borrow is held meanwhile.
    let out = changed(f(text));
    let r = read(&out);
    let cache = &mut cache.borrow_mut()[kind];
    let cost = out.as_ref().map_or(0, String::len) + 64;
    if cache.bytes + cost > MEMO_BYTES || cache.results.len() >= MEMO_ENTRIES {
        cache.results.clear();
        cache.bytes = 0;
    }
    cache.bytes += cost;
    cache.results.insert(key, out);
    r
}

/// The last words of keys that name a credential.
const SECRET_HEADS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "auth",
    "credential",
    "credentials",
    "cookie",
    "cookies",
    "privatekey",
    "accesskey",
];

/// True when an object key names a credential (its last word is password, secret, token, …).
///
/// `max_tokens`, `token_count`, `tokenizer`, `secretName` and `passwordless` are not credentials.
pub fn is_secret_key(key: &str) -> bool {
    // Every credential word ([`SECRET_HEADS`], `key`) holds a trigger (`pass`, `key`, `auth`,
    // ...), and so does a key that ends in one. Lower-casing outside ASCII can make one (the
    // Kelvin sign is a `k`), so only ASCII keys take the shortcut. The words cost allocations
    // per key: on lines each with a field of its own, 7 % of ingest.
    if key.is_ascii() && !may_hold_secret(key) {
        return false;
    }
    let words = key_words(key);
    let Some(head) = words.last() else {
        return false;
    };
    if SECRET_HEADS.contains(&head.as_str()) {
        return true;
    }
    if let [.., a, b] = words.as_slice() {
        return b == "key"
            && matches!(
                a.as_str(),
                "api" | "private" | "access" | "secret" | "signing"
            );
    }
    false
}

/// Splits a key into lower-case words at non-alphanumerics and camelCase boundaries.
fn key_words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Sanitizes JSON text (an object or any value) and returns it compact.
///
/// Text without any trigger substring is only compacted, in the pass that looks for triggers;
/// otherwise it is parsed, walked and written again.
pub fn sanitize_json(text: &str) -> Cow<'_, str> {
    match compact_clean(text) {
        Outline::Clean(compact) => compact,
        Outline::MayChange | Outline::Unsure => memoized(Memo::Json, text, sanitize_json_slow),
    }
}

/// [`sanitize_json`] of an object or array's text written in `form`.
///
/// Compact text long enough to be searched whole and holding no trigger is what
/// [`compact_clean`]'s pass would return unchanged: it is returned without that pass (the
/// scanner that read the line walked the text already). That pass changes compact text only
/// for a trigger or a `\u` escape, itself a trigger; no other escape can hide one (a trigger is
/// ASCII without quote, backslash or control character, and `\/`, which could make `://`, is a
/// trigger too). On the objects shape the pass was ~6 % of ingest instructions (callgrind),
/// nearly all of it on such texts.
pub fn sanitize_json_as(text: &str, form: Form) -> Cow<'_, str> {
    if form == Form::Compact && text.len() >= WHOLE_SEARCH_BYTES && !may_hold_secret(text) {
        return Cow::Borrowed(text);
    }
    sanitize_json(text)
}

/// What one pass over JSON text tells [`sanitize_json`].
#[derive(Debug)]
enum Outline<'a> {
    /// Sanitizing changes nothing but the form: the text compact, as
    /// [`minify_json`](super::flex::minify_json) writes it.
    Clean(Cow<'a, str>),
    /// Some key holds a trigger, or some string value may be changed by sanitizing.
    MayChange,
    /// Not sure the text is JSON.
    Unsure,
}

/// Outlines JSON text and, when sanitizing cannot change it, compacts it in the same pass.
///
/// Outside strings, JSON has only numbers, `true`/`false`/`null`, punctuation and white space,
/// none of which can hold a trigger, and no trigger holds a quote. So only strings are looked
/// at: keys, which repeat from event to event (every `metadata` object has the same few),
/// through a per-thread cache of keys without a trigger; values by [`value_may_change`].
///
/// Most objects hold no trigger at all (~80 % of `params` and `metadata` of high cardinality):
/// one search of the whole text, thirty-two bytes at a time, clears them, and then no string is
/// searched on its own (~4 % fewer instructions ingesting such objects, callgrind). A trigger
/// is ASCII and holds neither a quote nor white space, so it lies inside one string, whose text
/// as written holds it. Not so behind an escape: a key with one, or a value whose escapes are
/// not all of characters outside ASCII, is still searched on its own. The search leaves out
/// `\u`, which Python's `json.dumps` writes for every character outside ASCII: what such an
/// escape stands for can neither be nor make a trigger.
///
/// The copy is made only once there is something to leave out (white space) or to decode (a
/// `\u` escape of a character outside ASCII), and then in runs between such places. The outline
/// and [`minify_json`](super::flex::minify_json) were two passes: with Python's `json.dumps`
/// text (spaced, `\u` escapes) the two took ~10 % more of ingest than this one.
fn compact_clean(text: &str) -> Outline<'_> {
    let b = text.as_bytes();
    // Whether the text holds no trigger (see above). A short text is not searched whole: it
    // is mostly numbers (`{"memory_delta_mb":6.42,"cpu_user_ms":1781}`) under keys that the
    // cache clears, and the search cost more than it saved there (+1 % on the tools shape).
    let plain = b.len() >= WHOLE_SEARCH_BYTES && !may_hold_secret_but_u(text);
    // The compact text of `b[..from]`, once it differs from the text.
    let mut out: Option<String> = None;
    let mut from = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // The scan says whether the string holds an escape: the many that hold none
                // are not searched for one again.
                let Some((end, escapes)) = super::scan::string_scan(b, i, true) else {
                    return Outline::Unsure;
                };
                let escaped = escapes.any;
                let inner = &text[i + 1..end - 1];
                if b.get(super::scan::ws(b, end)) == Some(&b':') {
                    if (escaped || !plain) && key_may_hold_secret(inner) {
                        return Outline::MayChange;
                    }
                    i = end;
                    continue;
                }
                // Whether the string holds a `\u` escape, the scan says (a search of the text
                // for one was ~0.9 % of the instructions of ingesting the python shape).
                if escapes.unicode {
                    // Decoded (escapes of characters outside ASCII written as the characters),
                    // the value is judged by what it then reads: triggers are ASCII, so those
                    // characters can neither be nor make one.
                    let out = out.get_or_insert_with(|| String::with_capacity(b.len()));
                    out.push_str(&text[from..i]);
                    let at = out.len();
                    let kept_escape = push_decoding_non_ascii(out, &text[i..end]);
                    let changes = match kept_escape {
                        false => !plain && value_may_change(&out[at + 1..out.len() - 1]),
                        true => value_may_change(inner),
                    };
                    if changes {
                        return Outline::MayChange;
                    }
                    from = end;
                } else if (!plain || escaped) && value_may_change(inner) {
                    return Outline::MayChange;
                }
                i = end;
            }
            b' ' | b'\n' | b'\t' | b'\r' => {
                let out = out.get_or_insert_with(|| String::with_capacity(b.len()));
                out.push_str(&text[from..i]);
                i = super::scan::ws(b, i);
                from = i;
            }
            b'0'..=b'9' | b'-' => {
                i += 1;
                while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = b.get(i) {
                    i += 1;
                }
            }
            b'{' | b'}' | b'[' | b']' | b',' | b':' => i += 1,
            b't' if b[i..].starts_with(b"true") => i += 4,
            b'f' if b[i..].starts_with(b"false") => i += 5,
            b'n' if b[i..].starts_with(b"null") => i += 4,
            _ => return Outline::Unsure,
        }
    }
    Outline::Clean(match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[from..]);
            Cow::Owned(out)
        }
    })
}

/// Texts this long and longer are searched for triggers whole by [`compact_clean`].
const WHOLE_SEARCH_BYTES: usize = 64;

/// Whether [`sanitize_text`] may change the JSON string whose body (between the quotes) is
/// `inner`: it holds a trigger, and either an escape (the text is not what it reads) or the
/// trigger of a rule. A path naming `auth.ts` or a tag `token` holds triggers of no rule that
/// runs on it (the `key = value` rule needs an assignment): such values no longer send a whole
/// object down the slow path (unique shape: ~8 % of ingest CPU there).
fn value_may_change(inner: &str) -> bool {
    if !may_hold_secret(inner) {
        return false;
    }
    if inner.contains('\\') {
        // What the text reads decides: its escapes may hide a trigger (`\u0073k-`) or be one
        // (`\u`, which Python's `json.dumps` writes for every character outside ASCII: such
        // objects all took the slow path, ~10 % of ingesting them). Triggers are ASCII, so
        // escapes of characters outside it can neither be nor make one: when those are all the
        // escapes and `\u` all the triggers, the text reads plain without being decoded.
        if trigger_mask(inner) == 1 << U_ESCAPE && escapes_outside_ascii(inner) {
            return false;
        }
        return match super::flex::unescape(inner) {
            Some(text) if !text.contains('\\') => value_may_change(&text),
            _ => true,
        };
    }
    let mask = trigger_mask(inner);
    rules().iter().any(|r| r.needs & mask != 0)
}

/// The index of the trigger `\u` in [`TRIGGERS`].
const U_ESCAPE: usize = {
    let mut i = 0;
    while !matches!(TRIGGERS[i].as_bytes(), [b'\\', b'u']) {
        i += 1;
    }
    i
};

/// Whether every escape in a JSON string body is a `\u` escape of a character outside ASCII.
fn escapes_outside_ascii(inner: &str) -> bool {
    let b = inner.as_bytes();
    let mut at = 0;
    while let Some(k) = memchr::memchr(b'\\', &b[at..]) {
        let k = at + k;
        match super::scan::unicode_escape(b, k) {
            Some((c, used)) if b[k + 1] == b'u' && c >= 0x80 => at = k + used,
            _ => return false,
        }
    }
    true
}

/// [`may_hold_secret`] for an object key, through a per-thread direct-mapped cache of short
/// keys without a trigger (the same few keys come back on every event).
fn key_may_hold_secret(key: &str) -> bool {
    use super::parse::KeyWords;
    thread_local! {
        static PLAIN: std::cell::RefCell<[Option<KeyWords>; 64]> =
            const { std::cell::RefCell::new([None; 64]) };
    }
    let Some(words) = KeyWords::of(key.as_bytes()) else {
        return may_hold_secret(key);
    };
    let slot = words.slot();
    // Through a pointer, not a closure handed to `with` (see [`through_memo`]).
    let plain: *const std::cell::RefCell<[Option<KeyWords>; 64]> = PLAIN.with(std::ptr::from_ref);
    // SAFETY: this thread's cache, which lives until the thread ends, so for all of this call.
    let plain = unsafe { &*plain };
    if plain.borrow()[slot] == Some(words) {
        return false;
    }
    let trigger = may_hold_secret(key);
    if !trigger {
        plain.borrow_mut()[slot] = Some(words);
    }
    trigger
}

fn sanitize_json_slow(text: &str) -> Cow<'_, str> {
    if let Some(clean) = sanitize_json_stream(text) {
        // Unchanged (already compact, nothing to redact): no copy to keep or cache.
        return if clean == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(clean)
        };
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            sanitize_value(&mut v);
            Cow::Owned(v.to_string())
        }
        // Not JSON after all: treat it as text.
        Err(_) => Cow::Owned(sanitize_text(text).into_owned()),
    }
}

/// The common path of [`sanitize_json`]: one pass over the text that minifies it, redacts the
/// values of credential keys and sanitizes the strings that may hold secrets, without building
/// a tree. `None` for text it does not handle (then the tree walk does the work).
fn sanitize_json_stream(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut objects: Vec<bool> = Vec::new();
    let mut expect_key = false;
    let mut redact_next = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\n' | b'\t' | b'\r' => i += 1,
            c @ (b'{' | b'[') => {
                if redact_next {
                    i = skip_container(b, i)?;
                    out.push_str(REDACTED_JSON);
                    redact_next = false;
                    continue;
                }
                objects.push(c == b'{');
                expect_key = c == b'{';
                out.push(c as char);
                i += 1;
            }
            c @ (b'}' | b']') => {
                objects.pop();
                expect_key = false;
                out.push(c as char);
                i += 1;
            }
            b',' => {
                expect_key = objects.last() == Some(&true);
                out.push(',');
                i += 1;
            }
            b':' => {
                expect_key = false;
                out.push(':');
                i += 1;
            }
            b'"' => {
                let end = string_end(b, i)?;
                let raw = &text[i..end];
                let inner = &raw[1..raw.len() - 1];
                if expect_key {
                    let key: Cow<str> = if inner.contains('\\') {
                        Cow::Owned(serde_json::from_str::<String>(raw).ok()?)
                    } else {
                        Cow::Borrowed(inner)
                    };
                    redact_next = may_hold_secret(&key) && is_secret_key(&key);
                    _ = push_decoding_non_ascii(&mut out, raw);
                } else if redact_next {
                    out.push_str(if inner.is_empty() { raw } else { REDACTED_JSON });
                    redact_next = false;
                } else if may_hold_secret(inner) {
                    let s: String = serde_json::from_str(raw).ok()?;
                    match sanitize_text(&s) {
                        Cow::Borrowed(_) => _ = push_decoding_non_ascii(&mut out, raw),
                        Cow::Owned(clean) => out.push_str(&Value::String(clean).to_string()),
                    }
                } else {
                    _ = push_decoding_non_ascii(&mut out, raw);
                }
                i = end;
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let keep = !redact_next || token == "null";
                out.push_str(if keep { token } else { REDACTED_JSON });
                redact_next = false;
            }
        }
    }
    Some(out)
}

const REDACTED_JSON: &str = "\"[REDACTED]\"";

/// Index just past the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Index just past the object or array starting at `b[i]`.
fn skip_container(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Sanitizes a parsed JSON value in place.
pub fn sanitize_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(clean) = sanitize_text(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sanitize_value),
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let empty =
                    matches!(val, Value::Null) || matches!(val, Value::String(s) if s.is_empty());
                if is_secret_key(k) && !empty {
                    *val = Value::String(REDACTED.to_string());
                } else {
                    sanitize_value(val);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::flex::minify_json;

    #[test]
    fn trigger_check_agrees_with_aho_corasick() {
        use rand::{Rng, SeedableRng};
        let ac = aho_corasick::AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(TRIGGERS)
            .unwrap();
        let pieces: Vec<String> = TRIGGERS
            .iter()
            .flat_map(|t| {
                let n = t.len();
                [
                    t.to_string(),
                    t[..n - 1].to_string(),
                    t[1..].to_string(),
                    t.to_uppercase(),
                ]
            })
            .chain(
                [
                    "a", "é", "日本", " ", "\"", "{", "1", "_", "-", "x", "K", "S",
                ]
                .map(String::from),
            )
            .collect();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        let (mut hits, mut misses) = (0, 0);
        for _ in 0..50_000 {
            let mut text = String::new();
            for _ in 0..rng.random_range(0..6) {
                let p = &pieces[rng.random_range(0..pieces.len())];
                // Flip the case of one ASCII letter now and then.
                let flip = rng.random_range(0..p.len().max(1) * 2);
                for (i, c) in p.chars().enumerate() {
                    text.push(if i == flip { c.to_ascii_uppercase() } else { c });
                }
            }
            let want = ac.is_match(&text);
            assert_eq!(may_hold_secret(&text), want, "{text:?}");
            if want { hits += 1 } else { misses += 1 }
        }
        assert!(hits > 1000 && misses > 1000, "{hits} {misses}");
    }

    /// The sixteen-at-a-time scan calls, in order, every position where a whole trigger
    /// starts and no position that is not a pair start, at every offset of a block, in bytes
    /// of any value (whole triggers and their first two and three bytes in either case,
    /// non-ASCII, and bytes that share a nibble with a trigger byte).
    #[test]
    fn pair_scan_calls_every_trigger_start_and_only_pair_starts() {
        use rand::{Rng, SeedableRng};
        // Pieces: whole triggers in either case, their first two or three bytes, and others.
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        for t in TRIGGERS {
            let b = t.as_bytes();
            pieces.push(b.to_vec());
            pieces.push(b.to_ascii_uppercase());
            pieces.push(b[..2].to_vec());
            pieces.push(b[..b.len().min(3)].to_ascii_uppercase());
        }
        for other in ["q", "Q", "\u{80}", "\u{e6}", " ", "\n", "|", "x"] {
            pieces.push(other.as_bytes().to_vec());
        }
        pieces.extend([vec![0x80], vec![0xff], vec![0]]);
        // Whether a trigger of `search` starts at `b[i]`.
        let trigger_at = |b: &[u8], i: usize, search: Search| {
            TRIGGERS.iter().enumerate().any(|(k, t)| {
                let t = t.as_bytes();
                (search == Search::All || k != U_ESCAPE)
                    && b.len() >= i + t.len()
                    && b[i..i + t.len()].eq_ignore_ascii_case(t)
            })
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let (mut calls, mut starts, mut u_left_out) = (0, 0, 0);
        for round in 0..20_000 {
            let n: usize = rng.random_range(0..60);
            let b: Vec<u8> = match round % 3 {
                0 => (0..2 * n).map(|_| rng.random::<u8>()).collect(),
                _ => (0..n)
                    .flat_map(|_| pieces[rng.random_range(0..pieces.len())].clone())
                    .collect(),
            };
            for search in [Search::All, Search::ButU] {
                let must: Vec<usize> = (0..b.len())
                    .filter(|&i| trigger_at(&b, i, search))
                    .collect();
                let mut got = Vec::new();
                assert!(!pair_starts(&b, search, |i| {
                    got.push(i);
                    false
                }));
                // In order, only at pair starts, and at every start of a whole trigger.
                assert!(got.windows(2).all(|w| w[0] < w[1]), "{b:?}");
                assert!(
                    got.iter().all(|&i| starts_with_pair(b[i], b[i + 1])),
                    "{b:?}"
                );
                assert!(
                    must.iter().all(|i| got.contains(i)),
                    "{search:?} {b:?}: {must:?} {got:?}"
                );
                calls += got.len();
                starts += must.len();
                // `\u` alone, in a long text, is no candidate of `ButU`'s filter.
                if search == Search::ButU && b.len() >= pair_scan::BLOCK + 2 {
                    let only_u = |i: &usize| {
                        b[*i..].starts_with(b"\\u") && !trigger_at(&b, *i, Search::ButU)
                    };
                    let last_two = b.len() - 2;
                    u_left_out += (0..last_two).filter(only_u).count();
                    assert!(!got.iter().filter(|&&i| i < last_two).any(only_u), "{b:?}");
                }
                // Stopping at the first hit reports it.
                let mut first = None;
                let stopped = pair_starts(&b, search, |i| {
                    first = Some(i);
                    true
                });
                assert_eq!((stopped, first), (!got.is_empty(), got.first().copied()));
            }
        }
        assert!(
            starts > 40_000 && u_left_out > 1_000,
            "{starts} {u_left_out}"
        );
        assert!(calls >= starts);
    }

    /// Long texts (past the scalar cut-off) name the triggers aho-corasick finds in them.
    #[test]
    fn trigger_mask_of_long_texts_agrees_with_aho_corasick() {
        use rand::{Rng, SeedableRng};
        let ac = aho_corasick::AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(TRIGGERS)
            .unwrap();
        let words = [
            "at",
            "node_modules/",
            "Auth",
            "TOKEN",
            "key",
            "/srv/",
            "sk-",
            "ghp_",
            "日本",
            "é",
            " ",
            "\\u",
            "github_pat_",
            "cookie",
            "-----BEGIN",
            "://",
            "Bearer",
            "x",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(8);
        for _ in 0..5_000 {
            let text: String = (0..rng.random_range(8..60))
                .map(|_| words[rng.random_range(0..words.len())])
                .collect();
            let want = ac
                .find_overlapping_iter(&text)
                .fold(0u64, |m, hit| m | 1 << hit.pattern().as_usize());
            assert_eq!(trigger_mask(&text) & !ASSIGNED, want, "{text:?}");
        }
    }

    #[test]
    fn rules_gated_by_their_triggers_redact_as_all_rules_do() {
        use rand::{Rng, SeedableRng};
        let all = |text: &str| {
            let mut out = text.to_string();
            for rule in rules() {
                out = rule.re.replace_all(&out, rule.replace).into_owned();
            }
            out
        };
        let pieces = [
            "Bearer abc.def",
            "bearer",
            "[REDACTED]",
            ".eyJhbGciOi",
            ".sig9",
            "token=",
            "Token: ",
            "password=\"x y\"",
            "api-key:",
            "AKIAABCDEFGHIJKLMNOP",
            "sk-ant-api03-xyz1",
            "sk_live_abcdefgh12",
            "ghp_abcdef123",
            "https://bob:pa55@host/x",
            "authorization: basic",
            " QWxhZGRpbjpvcGVu",
            "xoxb-123456-abc",
            "npm_abcdefghijklmnopqrstuv",
            "-----BEGIN RSA PRIVATE KEY-----",
            "MIIE",
            "-----END RSA PRIVATE KEY-----",
            "worker.auth (/auth/x.js:1:2)",
            "cookie=",
            "ab",
            " ",
            "\n    at ",
            "=",
            ":",
            "é",
            "passwordless",
            "max_tokens=5",
            "token.js",
            "/keys/",
            "Secret ",
            "\u{a0}",
            "'",
            "\"",
            "credentials",
            "PASSPHRASE",
            "\t",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let mut changed = 0;
        for _ in 0..20_000 {
            let text: String = (0..rng.random_range(1..10))
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            let want = all(&text);
            assert_eq!(apply_rules(&text), want, "{text:?}");
            changed += usize::from(want != text);
        }
        assert!(changed > 5000, "{changed}");
        // What the `key = value` rule's gate must let through (Unicode white space, a quote,
        // the rest of a word) and what it may skip.
        for text in [
            "secret\u{a0}: hunter2",
            "token\u{2003}= abc",
            "API_KEY\"= x",
            "PASSWORD\t:\tx",
            "passphrase'= z",
            "credentials = y",
            "cookie\u{0b}=c",
            "at token.js:1:2",
            "keys/x=1",
        ] {
            assert_eq!(apply_rules(text), all(text), "{text:?}");
        }
        assert_eq!(
            apply_rules("secret\u{a0}: hunter2"),
            "secret\u{a0}: [REDACTED]"
        );
    }

    /// A secret written with `\u` escapes is found; text that only escapes characters outside
    /// ASCII (Python's `json.dumps`) is kept, those characters written as themselves.
    #[test]
    fn escapes_neither_hide_a_secret_nor_slow_plain_text() {
        let hidden = r#"{"q":"\u0073k-abcdefghijklmnopqrstuvwxyz123456"}"#;
        assert_eq!(sanitize_json(hidden), r#"{"q":"[REDACTED]"}"#);
        // A trigger made of escapes of ASCII characters, or next to escapes outside it.
        let made = r#"{"u":"see http:\/\/u:p4ss@host\u00e9"}"#;
        assert!(matches!(compact_clean(made), Outline::MayChange));
        // The whole text holds no trigger as written: each escaped key and value is searched.
        let key = r#"{"a": 1, "p\u0061ssword": "hunter2"}"#;
        assert_eq!(
            sanitize_json(key),
            r#"{"a":1,"p\u0061ssword":"[REDACTED]"}"#
        );
        let value = r#"{"a": "\u00e9", "h": "Be\u0061rer abcdefghijklmnop"}"#;
        assert_eq!(sanitize_json(value), r#"{"a":"é","h":"Bearer [REDACTED]"}"#);
        // Slashes escaped, as PHP's `json_encode` writes them: `://` hidden as written.
        let url = r#"{"a": "x", "u": "see http:\/\/me:p4ssw0rd@host\/x"}"#;
        assert!(matches!(compact_clean(url), Outline::MayChange));
        assert_eq!(
            sanitize_json(url),
            r#"{"a":"x","u":"see http://[REDACTED]@host/x"}"#
        );
        let beside = r#"{"q":"\u00e9 sk-abcdefghijklmnopqrstuvwxyz123456"}"#;
        assert_eq!(sanitize_json(beside), r#"{"q":"é [REDACTED]"}"#);
        assert!(escapes_outside_ascii(r"caf\u00e9\ud83d\ude00"));
        assert!(!escapes_outside_ascii(r"\u0041"));
        assert!(!escapes_outside_ascii(r"a\nb\u00e9"));
        assert!(!escapes_outside_ascii(r"\u00"));
        let plain = r#"{"query": "caf\u00e9 \u65e0\u6cd5", "limit": 5}"#;
        let Outline::Clean(compact) = compact_clean(plain) else {
            panic!("not clean: {plain}");
        };
        assert_eq!(compact, r#"{"query":"café 无法","limit":5}"#);
        assert_eq!(sanitize_json(plain), compact);
    }

    #[test]
    fn the_outline_finds_the_triggers_of_the_whole_text_and_compacts_the_rest() {
        use rand::{Rng, SeedableRng};
        let words = [
            "memory_delta_mb",
            "cpu",
            "x",
            "Token",
            "api_key",
            "sk-12ab",
            "pass",
            "é",
            "ok",
            "http://u:p@h",
            "http:\\/\\/u:p@h",
            "\\u0041",
            "caf\\u00e9\\u65e0",
            "\\u0073k-12ab",
            "api\\u005fkey",
            "p\\u0061ssword",
            "to\\u006Ben=1",
            "tok\\u00e9n",
            "bearer",
            "[REDACTED].x",
            "-----BEGIN",
            "akia",
            "a\\\"b",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let pick =
            |rng: &mut rand_xoshiro::Xoshiro256PlusPlus| words[rng.random_range(0..words.len())];
        for round in 0..20_000 {
            let mut text = String::from("{");
            for k in 0..rng.random_range(0..4) {
                if k > 0 {
                    text.push(',');
                }
                let space = if round % 3 == 0 { " " } else { "" };
                let key = pick(&mut rng);
                let value = match rng.random_range(0..5) {
                    0 => format!("{}", rng.random_range(-5.0..1e6)),
                    1 => format!("\"{}\"", pick(&mut rng)),
                    2 => "[true,false,null,1e-3]".to_string(),
                    3 => format!("{{\"{}\":{space}\"{}\"}}", pick(&mut rng), pick(&mut rng)),
                    _ => "null".to_string(),
                };
                text.push_str(&format!("\"{key}\"{space}:{space}{value}"));
            }
            text.push('}');
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "{text}"
            );
            // Every text here is outlined: the scanner reads `\u` escapes of whole characters.
            // Outlined as clean only when sanitizing changes nothing but the form, and always
            // when the text holds no trigger; then compact as the tree walk writes it.
            match compact_clean(&text) {
                Outline::Unsure => panic!("not outlined: {text}"),
                Outline::MayChange => assert!(may_hold_secret(&text), "{text}"),
                Outline::Clean(compact) => {
                    assert_eq!(compact, sanitize_json_slow(&text), "{text}");
                    assert_eq!(compact, minify_json(&text), "{text}");
                    let plain = !text.contains(' ') && !text.contains("\\u");
                    assert_eq!(matches!(compact, Cow::Borrowed(_)), plain, "{text}");
                }
            }
        }
    }

    /// Objects read by the line scanner: what [`sanitize_json_as`] makes of one in the form the
    /// scanner found is what [`sanitize_json`] makes of it, whether the text is compact or spaced,
    /// holds escapes or triggers, is short or long.
    #[test]
    fn the_scanned_form_changes_no_sanitized_text() {
        use crate::model::flex::{Fields, Flex, Form};
        use rand::{Rng, SeedableRng};
        let plain = [
            "memory_delta_mb",
            "host",
            "worker-17",
            "src/auth/login.ts",
            "query",
            "upload index cache",
            "trace_id",
            "719455c5dd3700e64d0ed63294e82cc0",
            "é",
        ];
        let odd = [
            "Token",
            "api_key",
            "sk-12ab34cd56ef78gh90ij",
            "password",
            "http://u:p@h",
            // Escapes that hide a trigger: `\/` is none itself.
            "http:\\/\\/u:p@h",
            "caf\\u00e9",
            "\\u0073k-12ab34cd56ef78gh90ij",
            "bearer abc.def.ghi",
            "AKIAABCDEFGHIJKLMNOP",
            "a\\\"b",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        // One word in ten holds a trigger or an escape.
        let pick = |rng: &mut rand_xoshiro::Xoshiro256PlusPlus| match rng.random_range(0..10) {
            0 => odd[rng.random_range(0..odd.len())],
            _ => plain[rng.random_range(0..plain.len())],
        };
        let (mut compact, mut skipped) = (0, 0);
        for round in 0..20_000 {
            let space = if round % 4 == 0 { " " } else { "" };
            let mut text = String::from("{");
            for k in 0..rng.random_range(0..7) {
                if k > 0 {
                    text.push(',');
                    text.push_str(space);
                }
                let value = match rng.random_range(0..4) {
                    0 => format!("{}", rng.random_range(-5.0..1e6)),
                    1 => format!("[\"{}\",{space}\"{}\"]", pick(&mut rng), pick(&mut rng)),
                    2 => format!("{{\"{}\":{space}\"{}\"}}", pick(&mut rng), pick(&mut rng)),
                    _ => format!("\"{}\"", pick(&mut rng)),
                };
                text.push_str(&format!("\"{}\":{space}{value}", pick(&mut rng)));
            }
            text.push('}');
            let line = format!("{{\"params\":{text}}}");
            let mut fields = Fields::new();
            assert!(crate::model::scan::object(&line, &mut fields), "{line}");
            let (_, raw, loose) = fields.plain().next().expect("the params field");
            let Flex::Json(t, form) = Flex::from_scanned(raw, loose) else {
                panic!("not an object: {raw}");
            };
            assert_eq!(sanitize_json_as(t, form), sanitize_json(t), "{t}");
            if form == Form::Compact {
                compact += 1;
                skipped += usize::from(t.len() >= WHOLE_SEARCH_BYTES && !may_hold_secret(t));
            }
        }
        // Both ways taken many times: texts returned without the outline's pass, and compact
        // texts that hold a trigger or are short.
        assert!(
            skipped > 1_000 && compact - skipped > 1_000,
            "{compact} {skipped}"
        );
    }

    #[test]
    fn key_words_split_camel_case_and_separators() {
        assert_eq!(key_words("APIKey"), ["api", "key"]);
        assert_eq!(key_words("x-api-key"), ["x", "api", "key"]);
        assert_eq!(key_words("githubToken2"), ["github", "token2"]);
        assert_eq!(key_words("max_tokens"), ["max", "tokens"]);
    }

    #[test]
    fn credential_keys_but_not_look_alikes() {
        for k in [
            "password",
            "db_password",
            "apiKey",
            "api-key",
            "x-api-key",
            "Authorization",
            "access_token",
            "client_secret",
            "GITHUB_TOKEN",
            "private_key",
            "cookie",
            "credentials",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "max_tokens",
            "token_count",
            "tokenizer",
            "secretName",
            "passwordless",
            "secretary",
            "keyboard",
            "monkey",
            "token_budget",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    /// `is_secret_key` skips keys without a trigger: every credential word must hold one.
    #[test]
    fn every_credential_word_holds_a_trigger() {
        for w in SECRET_HEADS.iter().chain(&["key"]) {
            assert!(may_hold_secret(w), "{w}");
        }
    }

    #[test]
    fn text_rules() {
        let t = sanitize_text("Auth header Bearer abc.def.ghi refused");
        assert_eq!(t, "Auth header Bearer [REDACTED] refused");
        assert_eq!(
            sanitize_text("Access token=[REDACTED].eyJzdWIiOiIxMjMifQ.sig expired"),
            "Access token=[REDACTED] expired"
        );
        assert_eq!(
            sanitize_text("Auth header Bearer [REDACTED].def.ghi refused"),
            "Auth header Bearer [REDACTED] refused"
        );
        assert_eq!(
            sanitize_text("login with password=hunter2 failed"),
            "login with password=[REDACTED] failed"
        );
        assert_eq!(
            sanitize_text("token=[REDACTED]; password=x"),
            "token=[REDACTED]; password=[REDACTED]"
        );
        assert_eq!(
            sanitize_text("see https://bob:pa55@example.com/x"),
            "see https://[REDACTED]@example.com/x"
        );
        assert_eq!(
            sanitize_text("max_tokens=4096 token_count: 12"),
            "max_tokens=4096 token_count: 12"
        );
        assert_eq!(
            sanitize_text("passwordless sign-in enabled"),
            "passwordless sign-in enabled"
        );
        assert_eq!(
            sanitize_text("Authorization: Bearer sk-ant-api03-xyz1"),
            "Authorization: Bearer [REDACTED]"
        );
    }

    #[test]
    fn the_memo_gives_each_text_its_own_result_across_its_byte_bound() {
        // Unique multi-KB texts with a secret push the per-thread cache past its bound several
        // times; a repeat of an earlier text must still come back as its own redaction.
        let texts: Vec<String> = (0..6000)
            .map(|i| {
                format!(
                    "call {i} failed: password=p{i} {}",
                    "at handler (/srv/app.js:10:4) ".repeat(i % 131)
                )
            })
            .collect();
        for round in 0..2 {
            for (i, t) in texts.iter().enumerate() {
                let want = t.replace(&format!("password=p{i} "), "password=[REDACTED] ");
                assert_eq!(sanitize_text(t), want, "round {round}, text {i}");
            }
        }
    }

    #[test]
    fn json_rules_redact_keys_at_any_depth() {
        let out = sanitize_json(
            r#"{"a":{"list":[{"api_key":"k1"}],"password":{"x":1}},"max_tokens":5,"note":"Bearer abc"}"#,
        );
        assert_eq!(
            out,
            r#"{"a":{"list":[{"api_key":"[REDACTED]"}],"password":"[REDACTED]"},"max_tokens":5,"note":"Bearer [REDACTED]"}"#
        );
        assert!(matches!(sanitize_json(r#"{"files":12}"#), Cow::Borrowed(_)));
        assert_eq!(
            sanitize_json(r#"{ "max_tokens" : 5, "auth": {"a": "}"} }"#),
            r#"{"max_tokens":5,"auth":"[REDACTED]"}"#
        );
        assert_eq!(
            sanitize_json(r#"{"pass\u0077ord":"x","t":["Bearer abc",null]}"#),
            r#"{"pass\u0077ord":"[REDACTED]","t":["Bearer [REDACTED]",null]}"#
        );
    }
}
