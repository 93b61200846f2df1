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
