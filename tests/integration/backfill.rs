//! Backfill: compressed inputs, idempotence (again, and copies), resumption after SIGKILL.

use std::io::Write;

use crate::util::{Env, count_lines, files_with_suffix};

/// Generates history in the original layout under `dir`; returns lines per table.
fn history(env: &Env, dir: &str, rows: &str) -> std::path::PathBuf {
    let out = env.path(dir);
    env.run_ok(
        &[
            "generate",
            "--rows",
            rows,
            "--seed",
            "9",
            "--days",
            "5",
            "--end",
            "2026-11-28",
            "--out",
            out.to_str().unwrap(),
        ],
        0,
    );
    out
}

fn lines_of(dir: &std::path::Path, part: &str) -> u64 {
    files_with_suffix(dir, ".jsonl")
        .iter()
        .filter(|p| p.to_string_lossy().contains(part))
        .map(|p| count_lines(p))
        .sum()
}

#[test]
fn gz_zst_and_plain_inputs_load_once_even_as_copies() {
    let env = Env::new();
    let src = history(&env, "hist", "3000");
    let (skills, cujs, providers, progress) = (
        lines_of(&src, "skill-invocations-"),
        lines_of(&src, "cuj-metrics"),
        lines_of(&src, "provider-health"),
        lines_of(&src, "progress"),
    );
    // Compress two of the files (and remove the plain ones).
    let cuj = src.join("analytics/cuj-metrics.jsonl");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(src.join("analytics/cuj-metrics.jsonl.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&std::fs::read(&cuj).unwrap()).unwrap();
    gz.finish().unwrap();
    std::fs::remove_file(&cuj).unwrap();
    let prov = src.join("analytics/provider-health.jsonl");
    let data = zstd::encode_all(std::fs::File::open(&prov).unwrap(), 3).unwrap();
    std::fs::write(src.join("analytics/provider-health.jsonl.zst"), data).unwrap();
    std::fs::remove_file(&prov).unwrap();

    env.run_ok(&["backfill", src.to_str().unwrap()], 0);
    let counts = |env: &Env| {
        [
            "skill_invocations",
            "cuj_runs",
            "provider_calls",
            "progress_events",
        ]
        .map(|t| env.count(t, true))
    };
    assert_eq!(counts(&env), [skills, cujs, providers, progress]);
    // Again: nothing new.
    let out = env.run_ok(&["backfill", src.to_str().unwrap()], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already backfilled"));
    assert_eq!(counts(&env), [skills, cujs, providers, progress]);
    // A copy elsewhere, through a glob: nothing new either.
    let copy = env.path("copy");
    crate::util::copy_tree(&src, &copy);
    env.run_ok(&["backfill", &format!("{}/*/*", copy.display())], 0);
    assert_eq!(counts(&env), [skills, cujs, providers, progress]);
    // No decompressed copies are left behind.
    assert!(files_with_suffix(&env.root().join("backfill"), ".jsonl").is_empty());
}

#[test]
fn a_killed_backfill_resumes_with_exact_counts() {
    let env = Env::new();
    let src = history(&env, "hist", "40000");
    let skills = lines_of(&src, "skill-invocations-");
    // Die after the second commit (small memory budget: many commits).
    let out = env
        .cmd(&[
            "backfill",
            src.join("logs").to_str().unwrap(),
            "--memory-mb",
            "1",
        ])
        .env("OBSQ_FAULT", "committed:2")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the fault point must kill the run");
    let partial = env.count("skill_invocations", false);
    assert!(partial > 0 && partial < skills, "{partial} of {skills}");
    env.run_ok(&["backfill", src.join("logs").to_str().unwrap()], 0);
    assert_eq!(env.count("skill_invocations", false), skills);
    env.run_ok(&["backfill", src.join("logs").to_str().unwrap()], 0);
    assert_eq!(env.count("skill_invocations", false), skills);
}

#[test]
fn unknown_stream_is_a_clear_error() {
    let env = Env::new();
    let f = env.path("mystery.jsonl");
    std::fs::write(&f, "{\"a\":1}\n").unwrap();
    let out = env.run_ok(&["backfill", f.to_str().unwrap()], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stream"));
    env.run_ok(&["backfill", f.to_str().unwrap(), "--stream", "nope"], 2);
}
