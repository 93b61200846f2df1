//! Bad input never panics, never loses a good line, and every bad line is in quarantine with
//! its source, line number and reason.

use std::io::Write;

use crate::util::{Env, files_with_suffix};

#[test]
fn bad_lines_are_quarantined_with_reasons_and_good_lines_kept() {
    let env = Env::new();
    let dir = env.path("ctx/analytics");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cuj-metrics.jsonl");
    let good = |i: usize| {
        format!(
            r#"{{"timestamp":"2026-11-28T0{}:00:00.000Z","cuj_id":"CUJ-{i}","success":true,"duration_ms":{i}}}"#,
            i % 10
        )
    };
    let mut f = std::fs::File::create(&path).unwrap();
    let mut bad_lines = Vec::new();
    let mut good_count = 0;
    let mut line_no = 0;
    let mut put = |f: &mut std::fs::File,
                   bytes: &[u8],
                   bad: Option<&str>,
                   bad_lines: &mut Vec<(usize, String)>| {
        f.write_all(bytes).unwrap();
        f.write_all(b"\n").unwrap();
        line_no += 1;
        if let Some(why) = bad {
            bad_lines.push((line_no, why.to_string()));
        }
    };
    put(&mut f, good(1).as_bytes(), None, &mut bad_lines);
    put(
        &mut f,
        br#"{"timestamp":"2026-11-28T01:00:00.000Z","cuj_id":"CUJ-x","succ"#,
        Some("not JSON"),
        &mut bad_lines,
    );
    put(&mut f, b"null", Some("a JSON null"), &mut bad_lines);
    put(&mut f, b"42", Some("a JSON number"), &mut bad_lines);
    // A value of the wrong type in an optional field keeps its event (the value goes to `extra`);
    // one in `success`, which a CUJ run must have, does not.
    put(&mut f, br#"{"timestamp":"2026-11-28T01:00:00.000Z","cuj_id":"C","success":true,"duration_ms":"abc"}"#, None, &mut bad_lines);
    put(
        &mut f,
        br#"{"timestamp":"2026-11-28T01:00:00.000Z","cuj_id":"C","success":"maybe"}"#,
        Some("success"),
        &mut bad_lines,
    );
    put(
        &mut f,
        br#"{"cuj_id":"C","success":true,"duration_ms":5}"#,
        Some("timestamp"),
        &mut bad_lines,
    );
    put(
        &mut f,
        b"{\"timestamp\":\"2026-11-28T01:00:00.000Z\",\"cuj_id\":\"C\xff\xfe\",\"success\":true}",
        Some("UTF-8"),
        &mut bad_lines,
    );
    let huge = format!(
        r#"{{"timestamp":"2026-11-28T01:00:00.000Z","cuj_id":"C","success":true,"error":"{}"}}"#,
        "x".repeat(10 << 20)
    );
    put(&mut f, huge.as_bytes(), Some("limit"), &mut bad_lines);
    put(&mut f, br#"{"timestamp":"2026-11-28T02:00:00.000Z","cuj_id":"C-extra","success":false,"region":"eu-west","attempt":{"n":2}}"#, None, &mut bad_lines);
    put(&mut f, b"", None, &mut bad_lines);
    put(
        &mut f,
        br#"{"timestamp":"2026-11-28T01:00:00.000Z","success":true}"#,
        Some("cuj_id"),
        &mut bad_lines,
    );
    put(&mut f, br#"[1,2,3]"#, Some("array"), &mut bad_lines);
    for i in 2..30 {
        put(&mut f, good(i).as_bytes(), None, &mut bad_lines);
        good_count += 1;
    }
    drop(f);
    good_count += 3; // line 1, the line with a string duration and the line with unknown fields

    let out = env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        3,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("quarantined"));
    assert_eq!(env.count("cuj_runs", false), good_count);
    assert_eq!(
        env.count("cuj_runs", true),
        good_count,
        "the fresh tail skips what ingest consumed"
    );

    // Unknown fields are kept in `extra`.
    let extra = env.scalar("SELECT extra FROM cuj_runs WHERE cuj_id = 'C-extra'", false);
    assert_eq!(extra, r#""{""region"":""eu-west"",""attempt"":{""n"":2}}""#);

    // Every bad line is in a quarantine file with source, line number and reason.
    let qfiles = files_with_suffix(&env.root().join("quarantine"), ".jsonl.zst");
    let entries: Vec<serde_json::Value> = qfiles
        .iter()
        .flat_map(|p| {
            let raw = zstd::decode_all(std::fs::File::open(p).unwrap()).unwrap();
            String::from_utf8(raw)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(entries.len(), bad_lines.len(), "{entries:#?}");
    for (line, why) in &bad_lines {
        let e = entries
            .iter()
            .find(|e| e["line_no"] == *line as u64)
            .unwrap_or_else(|| panic!("line {line} ({why}) not in quarantine"));
        assert_eq!(e["source"], path.to_str().unwrap());
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains(why.as_str()),
            "line {line}: reason {reason:?} should mention {why:?}"
        );
    }
    let huge_entry = entries
        .iter()
        .find(|e| e["reason"].as_str().unwrap().contains("limit"))
        .unwrap();
    assert_eq!(huge_entry["raw_truncated"], true);
    // The same lines through SQL, read from the quarantine files when a query names them.
    let via_sql = env.csv_rows("SELECT line_no FROM system.quarantine ORDER BY line_no");
    let mut want: Vec<String> = bad_lines.iter().map(|(l, _)| l.to_string()).collect();
    want.sort_by_key(|l| l.parse::<u64>().unwrap());
    assert_eq!(via_sql, want);

    // A second ingest quarantines nothing again.
    env.run_ok(&["ingest"], 0);
    assert_eq!(
        files_with_suffix(&env.root().join("quarantine"), ".jsonl.zst").len(),
        qfiles.len()
    );
}

/// Files other tools wrote: a byte-order mark at the start of a file (and of a line, where files
/// were joined with `cat`), a file of only a byte-order mark, Windows line ends, and Python's
/// `str(datetime)` timestamps (a space for `T`, no offset: UTC). Every event is kept.
#[test]
fn byte_order_marks_windows_line_ends_and_python_timestamps_lose_no_event() {
    let env = Env::new();
    let dir = env.path("ctx/logs");
    std::fs::create_dir_all(&dir).unwrap();
    let line = |hour: u32, skill: &str| {
        format!(
            r#"{{"timestamp":"2026-11-28 {hour:02}:00:00.250000","skill":"{skill}","result":"success","duration_ms":5}}"#
        )
    };
    let text = format!(
        "\u{feff}{}\r\n{}\r\n\u{feff}{}\r\n",
        line(1, "first"),
        line(2, "second"),
        line(3, "joined")
    );
    std::fs::write(dir.join("skill-invocations-2026-11-28.jsonl"), text).unwrap();
    std::fs::write(dir.join("skill-invocations-2026-11-29.jsonl"), "\u{feff}").unwrap();
    env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        0,
    );
    assert_eq!(
        env.csv_rows("SELECT ts, skill FROM skill_invocations ORDER BY ts"),
        [
            "2026-11-28T01:00:00.250Z,first",
            "2026-11-28T02:00:00.250Z,second",
            "2026-11-28T03:00:00.250Z,joined",
        ]
    );
    assert_eq!(env.count("system.quarantine", false), 0);
}

/// A `\u` escape of half a surrogate pair (JavaScript strings may hold one; JSON allows it) is
/// U+FFFD in the stored text, and the rest of the value is kept: it was stored as null.
#[test]
fn a_lone_surrogate_escape_keeps_its_value() {
    let env = Env::new();
    let dir = env.path("ctx/logs");
    std::fs::create_dir_all(&dir).unwrap();
    let text = concat!(
        r#"{"timestamp":"2026-11-28T01:00:00Z","skill":"s\ud83d","result":"failure","duration_ms":5,"error":"bad \ud83d here \ud83d\ude00"}"#,
        "\n"
    );
    std::fs::write(dir.join("skill-invocations-2026-11-28.jsonl"), text).unwrap();
    env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        0,
    );
    assert_eq!(
        env.csv_rows("SELECT skill, error FROM skill_invocations"),
        ["s\u{fffd},bad \u{fffd} here \u{1f600}"]
    );
}
