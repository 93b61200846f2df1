//! The error patterns ([`PATTERNS`](super::PATTERNS)) matched by hand on ASCII text: the same
//! matches, of the same pattern, as the regex's leftmost-first search, in ~60 % of its time.
//!
//! Masking unique error texts was 9.5 % of the instructions of ingesting the long-text shape
//! (callgrind), most of it (6.6 %) the regex's lazy DFA searching forward to each match's end
//! and back to its start. Here each pattern is a small function that says where its preferred
//! match starting at a place ends, and the places are tried left to right, the patterns in their
//! order: an alternation's leftmost-first match. Each function's comment says why its one scan
//! finds the match the regex's backtracking prefers. On the 13,728 distinct error texts of four
//! shapes this takes 3.3 ns a byte against the regex's 5.6. The tests hold it to the regex on
//! random texts of every ASCII byte.
//!
//! ASCII only: `\w`, `\d`, `\s` and `\b` are the ASCII classes, which on ASCII text match what
//! the Unicode ones match (the regex's `µs` cannot occur).

/// A word byte (`\w`: `[0-9A-Za-z_]`).
const WORD: u8 = 1;
/// `\d`.
const DIGIT: u8 = 2;
/// `[A-Za-z]`.
const LETTER: u8 = 4;
/// `[0-9a-f]`.
const LOWER_HEX: u8 = 8;
/// `[0-9a-fA-F]`.
const HEX: u8 = 16;
/// `\s`: `[\t\n\x0B\x0C\r ]`.
const SPACE: u8 = 32;

/// The classes of each byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_alphanumeric() || b == b'_' {
            k |= WORD;
        }
        if b.is_ascii_digit() {
            k |= DIGIT | LOWER_HEX | HEX;
        }
        if b.is_ascii_alphabetic() {
            k |= LETTER;
        }
        if matches!(b, b'a'..=b'f') {
            k |= LOWER_HEX | HEX;
        }
        if matches!(b, b'A'..=b'F') {
            k |= HEX;
        }
        if matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
            k |= SPACE;
        }
        t[c] = k;
        c += 1;
    }
    t
};

fn class(c: u8) -> u8 {
    CLASS[c as usize]
}

fn word(c: u8) -> bool {
    class(c) & WORD != 0
}

fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// Whether `b[i]` is of `classes` (false past the end).
fn is(b: &[u8], i: usize, classes: u8) -> bool {
    b.get(i).is_some_and(|&c| class(c) & classes != 0)
}

/// `\b` at `e`.
fn boundary(b: &[u8], e: usize) -> bool {
    (e > 0 && word(b[e - 1])) != is(b, e, WORD)
}

/// The end of the run of bytes from `i` that `ok` takes.
fn run(b: &[u8], mut i: usize, mut ok: impl FnMut(u8) -> bool) -> usize {
    while i < b.len() && ok(b[i]) {
        i += 1;
    }
    i
}

/// `\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>)]+` at a letter after a boundary. The scheme's class
/// holds no `:`, so only its whole run can be followed by `://`; the rest is greedy and
/// followed by nothing. A failure records where the scheme's run ended in `dead`.
fn url(b: &[u8], p: usize, dead: &mut usize) -> Option<usize> {
    let i = run(b, p + 1, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-')
    });
    if !b[i..].starts_with(b"://") {
        *dead = i;
        return None;
    }
    let k = run(b, i + 3, |c| {
        class(c) & SPACE == 0 && !matches!(c, b'\'' | b'"' | b'<' | b'>' | b')')
    });
    (k > i + 3).then_some(k)
}

/// Past the runs of bytes `take` takes, each led by `sep` and at least one byte long, that
/// follow `end`: where they end, and where the first one's bytes start (`None` when none does).
fn separated_runs(
    b: &[u8],
    mut end: usize,
    sep: u8,
    take: impl Fn(u8) -> bool + Copy,
) -> (usize, Option<usize>) {
    let mut first = None;
    while b.get(end) == Some(&sep) {
        let t = run(b, end + 1, take);
        if t == end + 1 {
            break;
        }
        first.get_or_insert(end + 1);
        end = t;
    }
    (end, first)
}

/// `\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b` after a boundary. Neither class holds `@` or `.` where it
/// is needed next, so the local part and every label but the last are whole runs; backtracking
/// only gives back bytes of the last labels, so the match ends at the last place past the first
/// label's first byte where `\b` holds. A failure records where the local part's run ended in
/// `dead`.
fn email(b: &[u8], p: usize, dead: &mut usize) -> Option<usize> {
    let i = run(b, p, |c| word(c) || matches!(c, b'.' | b'+' | b'-'));
    if b.get(i) != Some(&b'@') {
        *dead = i;
        return None;
    }
    let label = |c: u8| word(c) || c == b'-';
    let end = run(b, i + 1, label);
    if end == i + 1 {
        return None;
    }
    let (end, first) = separated_runs(b, end, b'.', label);
    // Never right after a dot, where `\b` holds only before a word byte: then it also holds at
    // a later place of that label (its end, or where it turns to `-`), which is tried first.
    (first? + 1..=end).rev().find(|&e| boundary(b, e))
}

/// `\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b` after a
/// boundary: fixed lengths, nothing to choose.
fn uuid(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p;
    for (n, group) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'-') {
                return None;
            }
            i += 1;
        }
        if !b.get(i..i + group)?.iter().all(|&c| class(c) & HEX != 0) {
            return None;
        }
        i += group;
    }
    (!is(b, i, WORD)).then_some(i)
}

/// `'[^']*'|"[^"]*"|`[^`]*``: to the next of the same quote.
fn quoted(b: &[u8], p: usize) -> Option<usize> {
    memchr::memchr(b[p], &b[p + 1..]).map(|j| p + j + 2)
}

/// `/[\w.@+-]+(?:/[\w.@+-]+)+/?` at `q`. A segment's class holds no `/`, so every segment is a
/// whole run; greedy, the repetition takes every segment that follows, then a trailing `/`.
fn path_from_slash(b: &[u8], q: usize) -> Option<usize> {
    if b.get(q) != Some(&b'/') {
        return None;
    }
    let segment = |c: u8| word(c) || matches!(c, b'.' | b'@' | b'+' | b'-');
    let end = run(b, q + 1, segment);
    if end == q + 1 {
        return None;
    }
    let (end, more) = separated_runs(b, end, b'/', segment);
    more.map(|_| end + usize::from(b.get(end) == Some(&b'/')))
}

/// `[A-Za-z]:\\[^\s'"]+|\[PATH\]|(?:~|\.{1,2})?/[\w.@+-]+(?:/[\w.@+-]+)+/?` (no boundary).
/// The optional prefix is tried as the regex tries it: `~`, then two dots, then one, then none.
fn path(b: &[u8], p: usize) -> Option<usize> {
    match b[p] {
        c if c.is_ascii_alphabetic() => {
            if b.get(p + 1..p + 3) != Some(b":\\") {
                return None;
            }
            let k = run(b, p + 3, |c| {
                class(c) & SPACE == 0 && !matches!(c, b'\'' | b'"')
            });
            (k > p + 3).then_some(k)
        }
        b'[' => b[p..].starts_with(b"[PATH]").then_some(p + 6),
        b'~' => path_from_slash(b, p + 1),
        b'.' => (b.get(p + 1) == Some(&b'.'))
            .then(|| path_from_slash(b, p + 2))
            .flatten()
            .or_else(|| path_from_slash(b, p + 1)),
        b'/' => path_from_slash(b, p),
        _ => None,
    }
}

/// `\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b` at a digit after a boundary. A dot or the end must
/// follow each group of digits, so each is its whole run (of at most three); the port is kept
/// when `\b` holds after all its digits (fewer are followed by a digit), else dropped, and then
/// `\b` must hold after the address.
fn ip(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p;
    for n in 0..4 {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let e = run(b, i, digit);
        if e == i || e - i > 3 {
            return None;
        }
        i = e;
    }
    if b.get(i) == Some(&b':') {
        let e = run(b, i + 1, digit);
        if e > i + 1 && !is(b, e, WORD) {
            return Some(e);
        }
    }
    (!is(b, i, WORD)).then_some(i)
}

/// `\b0x[0-9a-fA-F]+\b|\b[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b|\b[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b`
/// at a byte of `[0-9a-f]` after a boundary. Every byte of the classes is a word byte, so `\b`
/// holds only past the whole run: the first alternative is the run after `0x`; the other two
/// are the run of `[0-9a-f]` when it holds both a letter and a digit.
fn hex(b: &[u8], p: usize) -> Option<usize> {
    if b[p] == b'0' && b.get(p + 1) == Some(&b'x') {
        let e = run(b, p + 2, |c| class(c) & HEX != 0);
        if e > p + 2 && !is(b, e, WORD) {
            return Some(e);
        }
    }
    let (mut letter, mut number) = (false, false);
    let e = run(b, p, |c| {
        let k = class(c);
        letter |= k & (LOWER_HEX | DIGIT) == LOWER_HEX;
        number |= k & DIGIT != 0;
        k & LOWER_HEX != 0
    });
    (letter && number && !is(b, e, WORD)).then_some(e)
}

/// `\b[A-Za-z][A-Za-z0-9]*[-_][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*\b` at a letter after a boundary.
/// The head's class holds neither `-` nor `_`, so the head is its whole run. In the tail, the
/// backtracking order (the first star longest, then the last) tries the ends from the last
/// byte of the tail's run down: the match ends at the last place after the tail's first digit
/// where `\b` holds.
fn id(b: &[u8], p: usize) -> Option<usize> {
    let i = run(b, p + 1, |c| c.is_ascii_alphanumeric());
    if !matches!(b.get(i), Some(b'-' | b'_')) {
        return None;
    }
    let t = run(b, i + 1, |c| word(c) || c == b'-');
    let d = (i + 1..t).find(|&k| digit(b[k]))?;
    (d + 1..=t).rev().find(|&e| boundary(b, e))
}

/// The units of the duration pattern (its `µs` cannot occur in ASCII text).
const UNITS: [&[u8]; 21] = [
    b"ms", b"us", b"ns", b"s", b"secs", b"sec", b"seconds", b"second", b"m", b"mins", b"min",
    b"minutes", b"minute", b"h", b"hrs", b"hr", b"hours", b"hour", b"d", b"days", b"day",
];

/// `\b\d+(?:\.\d+)?\s?(?:ms|us|µs|ns|s|secs?|…|days?)\b` at a digit after a boundary. The
/// digits, the fraction and the one space can only be taken whole (a shorter choice leaves a
/// digit, a dot or a space where a unit must start), and a unit ends at `\b`, so it is the whole
/// run of word bytes that follows, and at most one unit is that run.
fn duration(b: &[u8], p: usize) -> Option<usize> {
    let mut i = run(b, p, digit);
    if b.get(i) == Some(&b'.') && is(b, i + 1, DIGIT) {
        i = run(b, i + 1, digit);
    }
    if is(b, i, SPACE) {
        i += 1;
    }
    let e = run(b, i, word);
    UNITS.contains(&&b[i..e]).then_some(e)
}

/// `\b\d+(?:\.\d+)?\b` at a digit after a boundary: the fraction when `\b` holds after it,
/// else the integer when `\b` holds after that (it does before a dot).
fn number(b: &[u8], p: usize) -> Option<usize> {
    let i = run(b, p, digit);
    if b.get(i) == Some(&b'.') && is(b, i + 1, DIGIT) {
        let k = run(b, i + 1, digit);
        if !is(b, k, WORD) {
            return Some(k);
        }
    }
    (!is(b, i, WORD)).then_some(i)
}

/// Where the patterns that start in a run fail, for starts later in the same run.
#[derive(Default)]
struct Dead {
    /// A URL starting before this failed at its scheme's end; a later start in the scheme's
    /// run ends it at the same place, and fails too.
    url: usize,
    /// The same for an email's local part.
    email: usize,
}

/// The preferred match at `p`, `prev_word` saying whether `b[p - 1]` is a word byte: its end and
/// its pattern's index, the patterns tried in order.
fn at(b: &[u8], p: usize, prev_word: bool, dead: &mut Dead) -> Option<(usize, usize)> {
    let c = b[p];
    let k = class(c);
    if prev_word == (k & WORD != 0) {
        // No boundary: only the quoted strings and paths can start here.
        return match c {
            b'\'' | b'"' | b'`' => quoted(b, p).map(|e| (e, 3)),
            _ => path(b, p).map(|e| (e, 4)),
        };
    }
    if k & LETTER != 0
        && p >= dead.url
        && let Some(e) = url(b, p, &mut dead.url)
    {
        return Some((e, 0));
    }
    if (k & WORD != 0 || matches!(c, b'.' | b'+' | b'-'))
        && p >= dead.email
        && let Some(e) = email(b, p, &mut dead.email)
    {
        return Some((e, 1));
    }
    if k & HEX != 0
        && let Some(e) = uuid(b, p)
    {
        return Some((e, 2));
    }
    if matches!(c, b'\'' | b'"' | b'`')
        && let Some(e) = quoted(b, p)
    {
        return Some((e, 3));
    }
    if let Some(e) = path(b, p) {
        return Some((e, 4));
    }
    if k & DIGIT != 0
        && let Some(e) = ip(b, p)
    {
        return Some((e, 5));
    }
    if k & LOWER_HEX != 0
        && let Some(e) = hex(b, p)
    {
        return Some((e, 6));
    }
    if k & LETTER != 0
        && let Some(e) = id(b, p)
    {
        return Some((e, 7));
    }
    if k & DIGIT != 0 {
        if let Some(e) = duration(b, p) {
            return Some((e, 8));
        }
        return number(b, p).map(|e| (e, 9));
    }
    None
}

/// Calls `found(start, end, pattern index)` for each match of the patterns in ASCII `text`, as
/// the regex's `find_iter` finds them.
pub(super) fn find_iter(text: &str, mut found: impl FnMut(usize, usize, usize)) {
    let b = text.as_bytes();
    let mut p = 0;
    let mut prev_word = false;
    let mut dead = Dead::default();
    while p < b.len() {
        let c = b[p];
        let k = class(c);
        // Most bytes are inside a word, where only a drive path (`C:\`) can start, or between
        // bytes that are not, where only a quote or a path can.
        if prev_word == (k & WORD != 0) {
            let nothing = if prev_word {
                k & LETTER == 0 || b.get(p + 1) != Some(&b':')
            } else {
                !matches!(c, b'\'' | b'"' | b'`' | b'[' | b'~' | b'.' | b'/')
            };
            if nothing {
                p += 1;
                continue;
            }
        }
        match at(b, p, prev_word, &mut dead) {
            Some((end, pattern)) => {
                found(p, end, pattern);
                prev_word = word(b[end - 1]);
                p = end;
            }
            None => {
                prev_word = k & WORD != 0;
                p += 1;
            }
        }
    }
}

/// Appends the words of ASCII `text` to `out`, one space between them: what `split_whitespace`
/// gives on ASCII text, byte by byte (it decodes characters: ~0.8 % of the instructions of
/// ingesting the long-text shape).
pub(super) fn push_words(text: &str, out: &mut String) {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        let start = run(b, i, |c| class(c) & SPACE != 0);
        i = run(b, start, |c| class(c) & SPACE == 0);
        if start == i {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&text[start..i]);
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    /// Texts made of the pieces the patterns are made of, where their alternatives, optional
    /// parts and boundaries meet: every match is the regex's.
    #[test]
    fn pieces_of_the_patterns_match_as_the_regex_matches_them() {
        let pieces = [
            "a",
            "b",
            "f",
            "x",
            "Z",
            "A",
            "F",
            "g",
            "e",
            "0",
            "1",
            "9",
            "0x",
            "_",
            "-",
            ".",
            "..",
            "+",
            "@",
            "/",
            "~",
            ":",
            "\\",
            "'",
            "\"",
            "`",
            "[PATH]",
            "[",
            "]",
            "<",
            ")",
            " ",
            "\t",
            "\n",
            "\x0B",
            "\x0C",
            "ms",
            "s",
            "sec",
            "seconds",
            "min",
            "h",
            "hrs",
            "days",
            "d",
            "://",
            "http",
            "deadbeef",
            "12345678",
            "-1234-",
            "abc-def",
            "run_12",
            "1.2",
            "255.1.2.3",
            ":8080",
            "user@host.com",
            "C:\\x",
        ];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let re = super::super::masker();
        let mut matches = 0;
        for _ in 0..100_000 {
            let s: String = (0..rng.random_range(0..24))
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            let want: Vec<_> = re
                .find_iter(&s)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            let mut got = Vec::new();
            super::find_iter(&s, |start, end, pattern| got.push((start, end, pattern)));
            matches += want.len();
            assert_eq!(got, want, "{s:?}");
        }
        assert!(matches > 150_000, "{matches} matches");
    }

    /// Words of ASCII text as `split_whitespace` gives them, on texts of every ASCII byte.
    #[test]
    fn words_as_split_whitespace_gives_them() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let alphabet: Vec<u8> = (0u8..128).chain(*b"  \t\nab").collect();
        for _ in 0..20_000 {
            let s: String = (0..rng.random_range(0..30))
                .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
                .collect();
            let mut got = String::new();
            super::push_words(&s, &mut got);
            assert_eq!(
                got,
                s.split_whitespace().collect::<Vec<_>>().join(" "),
                "{s:?}"
            );
        }
    }
}
