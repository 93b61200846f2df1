//! Golden files: every `queries/*.sql` report's output on the fixture files, pinned in
//! `tests/golden/<report>.json`. Review a change like code; regenerate with
//! `OBSQ_BLESS=1 cargo test --test integration golden`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Env, copy_tree, expect_code, fixture_context};

pub const NOW: &str = "2026-11-28T09:51:50.000Z";

/// (report = query file, command line, JSON pointer into the output).
pub const CASES: &[(&str, &[&str], &str)] = &[
    (
        "skills_query",
        &["skills", "query", "--agent", "developer", "--limit", "5"],
        "",
    ),
    ("skills_stats", &["skills", "stats", "--window", "7d"], ""),
    (
        "skills_top",
        &["dashboard"],
        "/summary/skills/7d_top_skills",
    ),
    (
        "cuj_rate",
        &["cuj", "rate", "CUJ-005", "--window", "7d"],
        "",
    ),
    ("cuj_all", &["cuj", "all", "--window", "30d"], ""),
    (
        "cuj_trending",
        &[
            "cuj",
            "trending",
            "CUJ-001",
            "--buckets",
            "7",
            "--bucket",
            "1d",
        ],
        "",
    ),
    (
        "cuj_failures",
        &["cuj", "failures", "--window", "30d", "--top", "5"],
        "",
    ),
    (
        "cuj_percentiles",
        &["cuj", "percentiles", "CUJ-001", "--window", "all"],
        "",
    ),
    ("cuj_summary", &["dashboard"], "/summary/cujs/7d_summary"),
    ("cuj_highlights", &["dashboard"], "/highlights"),
    ("cuj_trends", &["dashboard"], "/trends"),
    (
        "progress_history",
        &["progress", "history", "--limit", "6"],
        "",
    ),
    ("progress_runs", &["progress", "runs"], ""),
    (
        "provider_status",
        &["provider", "status", "--window", "all"],
        "",
    ),
    (
        "provider_overall",
        &["provider", "overall", "--window", "24h"],
        "",
    ),
    (
        "provider_compare",
        &["provider", "compare", "--window", "all"],
        "",
    ),
    ("storage_health", &["dashboard"], "/summary/storage"),
    ("doctor", &["doctor"], ""),
    (
        "compare",
        &[
            "compare",
            "--window",
            "6d",
            "--stream",
            "skill",
            "--min-events",
            "5",
        ],
        "",
    ),
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Equal JSON, keys in the same order; numbers equal to 1e-12 relative (parallel sums may
/// round differently in the last bit).
pub fn same(want: &Value, got: &Value, at: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let (wk, gk): (Vec<_>, Vec<_>) = (w.keys().collect(), g.keys().collect());
            if wk != gk {
                return Err(format!("{at}: keys {wk:?} vs {gk:?}"));
            }
            w.iter()
                .try_for_each(|(k, v)| same(v, &g[k], &format!("{at}.{k}")))
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => w
            .iter()
            .zip(g)
            .enumerate()
            .try_for_each(|(i, (x, y))| same(x, y, &format!("{at}[{i}]"))),
        (Value::Number(w), Value::Number(g)) => {
            let (w, g) = (w.as_f64().unwrap(), g.as_f64().unwrap());
            let ok = (w - g).abs() <= 1e-12 * w.abs().max(1.0);
            ok.then_some(()).ok_or_else(|| format!("{at}: {w} vs {g}"))
        }
        _ if want == got => Ok(()),
        _ => Err(format!("{at}: {want} vs {got}")),
    }
}

#[test]
fn every_query_file_has_a_golden_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".sql").map(str::to_string))
        .collect();
    names.sort();
    let mut cased: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    cased.sort();
    assert_eq!(names, cased);
}

#[test]
fn reports_match_their_golden_files() {
    let env = Env::new();
    let ctx = env.path("project/.claude/context");
    copy_tree(&fixture_context(), &ctx);
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    let failures = check(&|args| env.run_ok(args, 0));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Views read by several sections are held in memory; inlined, the answers are the same.
    let inlined = check(&|args| {
        let out = env
            .cmd(args)
            .env("OBSQ_VIEW_MEMORY_MB", "0")
            .output()
            .unwrap();
        expect_code(out, 0, "a report with inlined views")
    });
    assert!(inlined.is_empty(), "{}", inlined.join("\n"));
    let bad = env
        .cmd(&["cuj", "failures"])
        .env("OBSQ_VIEW_MEMORY_MB", "lots")
        .output()
        .unwrap();
    let bad = expect_code(bad, 2, "a bad OBSQ_VIEW_MEMORY_MB");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("OBSQ_VIEW_MEMORY_MB"));
}

/// Runs every golden case through `run` (which asserts success) and returns the differences
/// from the golden files (`OBSQ_BLESS=1` rewrites them instead).
pub fn check(run: &dyn Fn(&[&str]) -> std::process::Output) -> Vec<String> {
    let bless = std::env::var_os("OBSQ_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, args, pointer) in CASES {
        let mut all = args.to_vec();
        all.extend(["--now", NOW, "--format", "json"]);
        let out = run(&all);
        let value: Value = serde_json::from_slice(&out.stdout).unwrap();
        let value = value.pointer(pointer).cloned().unwrap_or(Value::Null);
        let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
        let file = golden_dir().join(format!("{name}.json"));
        if bless {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&file, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("{} is missing: run with OBSQ_BLESS=1", file.display()));
        let want: Value = serde_json::from_str(&want).unwrap();
        if let Err(at) = same(&want, &value, name) {
            failures.push(format!(
                "{at}: output differs from {}:\n{text}",
                file.display()
            ));
        }
    }
    failures
}
