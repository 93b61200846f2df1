//! Splitting REPL input into SQL statements: `;` ends a statement unless it is inside a string,
//! a quoted identifier or a comment.

/// The complete statements in `input` (without their `;`), and the unfinished rest (as typed,
/// line breaks included, or empty when only blanks remain).
pub fn split_statements(input: &str) -> (Vec<String>, String) {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                for (_, d) in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
            }
            '-' if input[i..].starts_with("--") => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if input[i..].starts_with("/*") => {
                chars.next();
                while let Some((j, _)) = chars.next() {
                    if input[j..].starts_with("*/") {
                        chars.next();
                        break;
                    }
                }
            }
            ';' => {
                let stmt = input[start..i].trim();
                if !stmt.is_empty() {
                    out.push(stmt.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    let rest = &input[start..];
    let rest = if rest.trim().is_empty() { "" } else { rest };
    (out, rest.trim_start().to_string())
}

/// True when the input is ready to run: a backslash command, or SQL ending its last statement.
pub fn is_complete(input: &str) -> bool {
    let t = input.trim();
    t.is_empty() || t.starts_with('\\') || (split_statements(t).1.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_in_strings_and_comments_do_not_split() {
        let (s, rest) = split_statements("SELECT ';' AS a; -- x;\nSELECT 2 /* ; */;\nSELECT");
        assert_eq!(s, vec!["SELECT ';' AS a", "-- x;\nSELECT 2 /* ; */"]);
        assert_eq!(rest, "SELECT");
        let (s, rest) = split_statements("SELECT a,\n");
        assert!(s.is_empty());
        assert_eq!(
            rest, "SELECT a,\n",
            "line breaks inside a statement are kept"
        );
        assert!(!is_complete("SELECT 1\nFROM t"));
        assert!(is_complete("SELECT 1\nFROM t;"));
        assert!(is_complete("\\d"));
    }
}
