//! `error_pattern`: an error message with its variable parts masked, so that messages that differ
//! only in ids, numbers, paths, durations and the like group together.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use regex::{Captures, Regex};

fn masker() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
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
        .expect("static error-pattern regex is valid")
    })
}

fn mask(c: &Captures) -> String {
    let token = if c.name("url").is_some() {
        "<url>"
    } else if c.name("email").is_some() {
        "<email>"
    } else if c.name("uuid").is_some() {
        "<uuid>"
    } else if let Some(q) = c.name("quoted") {
        let quote = &q.as_str()[..1];
        return format!("{quote}<str>{quote}");
    } else if c.name("path").is_some() {
        "<path>"
    } else if c.name("ip").is_some() {
        "<ip>"
    } else if let Some(h) = c.name("hex") {
        // Short hex-looking words ("cafe1", "a1") are kept unless they are long enough to be ids.
        if h.as_str().len() < 8 && !h.as_str().starts_with("0x") {
            return mask_digits(h.as_str());
        }
        "<hex>"
    } else if let Some(id) = c.name("id") {
        // Names such as gpt-4o or claude-3-5-sonnet stay readable; ids carry several digits.
        if id.as_str().bytes().filter(u8::is_ascii_digit).count() < 3 {
            return id.as_str().to_string();
        }
        "<id>"
    } else if c.name("dur").is_some() {
        "<duration>"
    } else {
        "<n>"
    };
    token.to_string()
}

fn mask_digits(word: &str) -> String {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        "<n>".to_string()
    } else {
        word.to_string()
    }
}

/// Masks the variable parts of an error message.
pub fn error_pattern(text: &str) -> String {
    let masked = masker().replace_all(text, mask);
    let mut out = String::with_capacity(masked.len());
    for word in masked.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// [`error_pattern`] with a per-thread cache: error messages repeat a lot.
pub fn error_pattern_cached(text: &str) -> String {
    thread_local! {
        static CACHE: RefCell<HashMap<String, String, foldhash::fast::RandomState>> =
            RefCell::new(HashMap::default());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(p) = cache.get(text) {
            return p.clone();
        }
        if cache.len() > 50_000 {
            cache.clear();
        }
        let p = error_pattern(text);
        cache.insert(text.to_string(), p.clone());
        p
    })
}

#[cfg(test)]
mod tests {
    use super::error_pattern as p;

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
