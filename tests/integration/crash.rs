//! Crash safety: ingest killed with SIGKILL at many points, then one clean run: every stream's
//! row count is exact and nothing is left in staging or unlisted in data/.

use std::collections::BTreeSet;
use std::time::Duration;

use obsq::store::Catalog;

use crate::util::{Env, count_lines, files_with_suffix};

const TABLES: [(&str, &str); 4] = [
    ("skill_invocations", "skill-invocations-"),
    ("cuj_runs", "cuj-metrics"),
    ("progress_events", "progress"),
    ("provider_calls", "provider-health"),
];

fn expected(env: &Env, name_prefix: &str) -> u64 {
    files_with_suffix(&env.path("src"), ".jsonl")
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(name_prefix)
        })
        .map(|p| count_lines(p))
        .sum()
}

fn killed_ingest(env: &Env, fault: Option<&str>, after: Option<Duration>) -> Option<i32> {
    let mut cmd = env.cmd(&["ingest", "--memory-mb", "2"]);
    if let Some(f) = fault {
        cmd.env("OBSQ_FAULT", f);
    }
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn ingest");
    if let Some(d) = after {
        std::thread::sleep(d);
        let _ = child.kill(); // SIGKILL
    }
    child.wait().expect("wait").code()
}

#[test]
fn sigkill_at_twenty_plus_points_loses_and_doubles_nothing() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    env.run_ok(&["source", "add", src.to_str().unwrap()], 0);
    // Fault points on the write path, at different occurrences, then kills at arbitrary moments.
    // Before each, a new slice of data arrives, so every killed run has work in flight.
    let faults = [
        "decoded:1",
        "staged:1",
        "renamed:1",
        "before-commit:1",
        "committed:1",
        "decoded:2",
        "staged:3",
        "renamed:4",
        "before-commit:2",
        "committed:2",
        "staged:6",
        "renamed:7",
        "decoded:3",
        "before-commit:3",
        "committed:3",
    ];
    let delays = [5u64, 15, 30, 45, 60, 80, 100, 130, 170, 220];
    let mut kills = 0;
    for i in 0..faults.len() + delays.len() {
        let out = src.join(format!("s{i:02}"));
        env.run_ok(
            &[
                "generate",
                "--rows",
                "5000",
                "--seed",
                &i.to_string(),
                "--days",
                "4",
                "--end",
                "2026-11-28",
                "--out",
                out.to_str().unwrap(),
            ],
            0,
        );
        let code = match faults.get(i) {
            Some(f) => killed_ingest(&env, Some(f), None),
            None => killed_ingest(
                &env,
                None,
                Some(Duration::from_millis(delays[i - faults.len()])),
            ),
        };
        if code.is_none() {
            kills += 1; // died by a signal
        }
    }
    assert!(kills >= 20, "only {kills} runs were actually killed");
    env.run_ok(&["ingest"], 0);
    let mut total = 0;
    for (table, prefix) in TABLES {
        let want = expected(&env, prefix);
        total += want;
        assert!(want > 1000, "{table}");
        assert_eq!(
            env.count(table, false),
            want,
            "{table}: rows after crashes + one clean ingest"
        );
        assert_eq!(env.count(table, true), want, "{table}: with the fresh tail");
    }
    assert!(total >= 100_000, "{total} lines");
    let staging = files_with_suffix(&env.root().join("staging"), "");
    assert!(staging.is_empty(), "staging files left: {staging:?}");
    let on_disk: BTreeSet<String> = files_with_suffix(&env.root().join("data"), ".parquet")
        .iter()
        .map(|p| {
            p.strip_prefix(env.root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let listed: BTreeSet<String> = Catalog::open(&env.root().join("catalog.sqlite"))
        .unwrap()
        .live_files(None)
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        on_disk, listed,
        "every data file on disk is live in the catalog and vice versa"
    );
}
