//! The original tools' files load unchanged, exactly once, incrementally.

use std::io::Write;

use crate::util::{Env, copy_tree, count_lines, fixture_context};

const STREAM_FILES: [(&str, &str); 4] = [
    ("skill_invocations", "logs/skill-invocations-"),
    ("cuj_runs", "analytics/cuj-metrics.jsonl"),
    ("progress_events", "logs/progress.jsonl"),
    ("provider_calls", "analytics/provider-health.jsonl"),
];

fn expected_lines(ctx: &std::path::Path, prefix: &str) -> u64 {
    crate::util::files_with_suffix(ctx, ".jsonl")
        .iter()
        .filter(|p| {
            p.strip_prefix(ctx)
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
        })
        .map(|p| count_lines(p))
        .sum()
}

#[test]
fn fixture_files_give_one_row_per_line_exactly_once() {
    let env = Env::new();
    let ctx = env.path("project/.claude/context");
    copy_tree(&fixture_context(), &ctx);
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    for (table, prefix) in STREAM_FILES {
        let want = expected_lines(&ctx, prefix);
        assert!(want > 0);
        assert_eq!(env.count(table, false), want, "{table}");
        assert_eq!(env.count(table, true), want, "{table} with fresh tail");
    }
    // The source stays registered: a plain ingest finds nothing new.
    env.run_ok(&["ingest"], 0);
    for (table, prefix) in STREAM_FILES {
        assert_eq!(
            env.count(table, false),
            expected_lines(&ctx, prefix),
            "{table} after re-ingest"
        );
    }
    // Ten more lines in the original tool's format: exactly ten more rows.
    let path = ctx.join("analytics/cuj-metrics.jsonl");
    let before = env.count("cuj_runs", false);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    for i in 0..10 {
        writeln!(
            f,
            r#"{{"timestamp":"2026-11-28T10:0{i}:00.000Z","cuj_id":"CUJ-NEW","success":{},"duration_ms":{},"error":null,"metadata":{{}}}}"#,
            i % 2 == 0,
            1000 + i
        )
        .unwrap();
    }
    drop(f);
    assert_eq!(
        env.count("cuj_runs", true),
        before + 10,
        "fresh tail sees the new lines before ingest"
    );
    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("cuj_runs", false), before + 10);
    assert_eq!(
        env.count("cuj_runs", true),
        before + 10,
        "counted once after ingest"
    );
    assert_eq!(
        env.scalar(
            "SELECT count(*) FROM cuj_runs WHERE cuj_id = 'CUJ-NEW'",
            true
        ),
        "10"
    );
}

#[test]
fn runtime_layout_and_partial_last_line() {
    let env = Env::new();
    let ctx = env.path("p/.claude/context/runtime");
    copy_tree(&fixture_context(), &ctx);
    // A writer caught mid-append: the partial last line waits for its newline.
    let path = ctx.join("analytics/provider-health.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    write!(
        f,
        r#"{{"timestamp":1795858000000,"provider":"openai","succ"#
    )
    .unwrap();
    env.run_ok(&["source", "add", env.path("p").to_str().unwrap()], 0);
    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("provider_calls", false), 202);
    writeln!(
        f,
        r#"ess":true,"latency_ms":10,"error":null,"metadata":{{}}}}"#
    )
    .unwrap();
    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("provider_calls", false), 203);
}

#[test]
fn replaced_source_is_read_again_without_duplicates() {
    let env = Env::new();
    let ctx = env.path("ctx");
    std::fs::create_dir_all(ctx.join("analytics")).unwrap();
    let path = ctx.join("analytics/cuj-metrics.jsonl");
    let line = |i: u32| {
        format!(
            r#"{{"timestamp":"2026-11-2{}T00:00:00.000Z","cuj_id":"C{i}","success":true}}"#,
            i % 8 + 1
        )
    };
    std::fs::write(&path, (0..5).map(|i| line(i) + "\n").collect::<String>()).unwrap();
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    assert_eq!(env.count("cuj_runs", false), 5);
    // Rotated: the file now holds three different events.
    std::fs::write(&path, (10..13).map(|i| line(i) + "\n").collect::<String>()).unwrap();
    assert_eq!(env.count("cuj_runs", true), 8);
    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("cuj_runs", false), 8);
    assert_eq!(env.count("cuj_runs", true), 8);
}

/// Many sources of every stream, each read in several blocks, one source's last block still
/// decoding while the next source starts: every line is stored or quarantined once, under its
/// own source and line number, and a second run finds nothing new.
#[test]
fn many_multi_block_sources_are_each_read_exactly_once() {
    let env = Env::new();
    let ctx = env.path("many");
    for d in ["logs", "analytics"] {
        std::fs::create_dir_all(ctx.join(d)).unwrap();
    }
    // ~400 KB per file: several 256 KiB blocks at --memory-mb 1.
    let pad = "p".repeat(300);
    let mut bad = Vec::new();
    let mut write = |rel: &str, lines: usize, line: &dyn Fn(usize) -> String, partial: bool| {
        let mut text = String::new();
        for i in 0..lines {
            // The last line of every source is bad: it sits in the source's last block.
            if i + 1 == lines {
                text.push_str("{not json\n");
                bad.push((rel.to_string(), (i + 1).to_string()));
            } else {
                text.push_str(&line(i));
                text.push('\n');
            }
        }
        if partial {
            text.push_str(r#"{"timestamp":"2026-11-03T00:00:00Z","cu"#);
        }
        std::fs::write(ctx.join(rel), text).unwrap();
    };
    for day in 1..=6 {
        write(
            &format!("logs/skill-invocations-2026-11-0{day}.jsonl"),
            1000 + day * 37,
            &|i| {
                format!(
                    r#"{{"timestamp":"2026-11-0{day}T01:00:00Z","skill":"s{day}-{i}","params":"{pad}"}}"#
                )
            },
            false,
        );
    }
    write(
        "analytics/cuj-metrics.jsonl",
        1500,
        &|i| {
            format!(
                r#"{{"timestamp":"2026-11-0{}T00:00:00Z","cuj_id":"C{i}","success":true,"error":"{pad}"}}"#,
                i % 6 + 1
            )
        },
        true,
    );
    write(
        "logs/progress.jsonl",
        1400,
        &|i| {
            format!(
                r#"{{"timestamp":"2026-11-02T00:00:00Z","run_id":"r{i}","cuj_id":"C","step":1,"status":"{pad}"}}"#
            )
        },
        false,
    );
    std::fs::write(ctx.join("analytics/provider-health.jsonl"), "").unwrap();
    env.run_ok(
        &[
            "ingest",
            "--memory-mb",
            "1",
            "--source",
            ctx.to_str().unwrap(),
        ],
        3,
    );

    let distinct = |table: &str, col: &str| {
        env.scalar(&format!("SELECT count(DISTINCT {col}) FROM {table}"), false)
    };
    let skills: usize = (1..=6).map(|d| 1000 + d * 37 - 1).sum();
    assert_eq!(env.count("skill_invocations", false), skills as u64);
    assert_eq!(distinct("skill_invocations", "skill"), skills.to_string());
    assert_eq!(env.count("cuj_runs", false), 1499);
    assert_eq!(distinct("cuj_runs", "cuj_id"), "1499");
    assert_eq!(env.count("progress_events", false), 1399);
    assert_eq!(distinct("progress_events", "run_id"), "1399");
    let mut got = env.csv_rows("SELECT source || ':' || line_no FROM system.quarantine");
    got.sort();
    let mut want: Vec<String> = bad
        .iter()
        .map(|(rel, line)| format!("{}:{line}", ctx.join(rel).display()))
        .collect();
    want.sort();
    assert_eq!(got, want);

    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("skill_invocations", false), skills as u64);
    assert_eq!(env.count("cuj_runs", false), 1499);
    assert_eq!(
        env.csv_rows("SELECT line_no FROM system.quarantine").len(),
        bad.len()
    );
}
