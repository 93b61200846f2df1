//! Compaction: small files merged per (stream, day), every row kept, swapped atomically under
//! running queries; the ingest trigger.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::util::Env;

/// NDJSON for `record cuj --stdin`: `n` runs of round `round`, spread over two days.
fn runs(round: u32, n: u32) -> String {
    (0..n)
        .map(|i| {
            let day = 27 + (i % 2);
            format!(
                "{{\"timestamp\":\"2026-11-{day}T{:02}:{:02}:{:02}.000Z\",\"cuj_id\":\"CUJ-{:03}\",\"success\":{},\"duration_ms\":{}}}\n",
                round % 24,
                i % 60,
                (i / 60) % 60,
                i % 7,
                i % 5 != 0,
                100 + i * 3 + round
            )
        })
        .collect()
}

fn ingest_rounds(env: &Env, rounds: u32, compact_after: &str) {
    for r in 0..rounds {
        let out = env.run_with_stdin(&["record", "cuj", "--stdin"], &runs(r, 120));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        env.run_ok(&["ingest", "--compact-after", compact_after], 0);
    }
}

fn live_files(env: &Env) -> Vec<String> {
    env.csv_rows(
        "SELECT date, count(*) FROM system.files WHERE kind = 'data' AND state = 'live' GROUP BY date ORDER BY date",
    )
}

const ANSWER: &str = "SELECT count(*) AS n, sum(duration_ms) AS d, count(DISTINCT event_id) AS ids, \
    sum(CASE WHEN success THEN 1 ELSE 0 END) AS ok FROM cuj_runs";

#[test]
fn compaction_under_running_queries_never_changes_their_answers() {
    let env = Env::new();
    ingest_rounds(&env, 6, "0");
    assert_eq!(live_files(&env), vec!["2026-11-27,6", "2026-11-28,6"]);
    let before = env.csv_rows(ANSWER);
    let done = AtomicBool::new(false);
    let answers = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) || seen.is_empty() {
                seen.push(env.csv_rows(ANSWER));
            }
            seen
        });
        env.run_ok(&["compact"], 0);
        std::thread::sleep(std::time::Duration::from_millis(200));
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(!answers.is_empty());
    for a in &answers {
        assert_eq!(
            a, &before,
            "a query during compaction saw a different answer"
        );
    }
    assert_eq!(env.csv_rows(ANSWER), before);
    assert_eq!(live_files(&env), vec!["2026-11-27,1", "2026-11-28,1"]);
    // Replaced files stay for the grace period (running queries may read them) ...
    let on_disk = crate::util::files_with_suffix(&env.root().join("data"), ".parquet").len();
    assert_eq!(on_disk, 14);
    // ... and a compaction with no grace deletes them; disk then equals the catalog.
    env.run_ok(&["compact", "--grace", "0s"], 0);
    let on_disk = crate::util::files_with_suffix(&env.root().join("data"), ".parquet").len();
    assert_eq!(on_disk, 2);
    assert_eq!(env.csv_rows(ANSWER), before);
}

#[test]
fn compaction_keeps_identical_events_and_every_answer() {
    let env = Env::new();
    let line = "{\"timestamp\":\"2026-11-28T01:02:03.000Z\",\"cuj_id\":\"CUJ-1\",\"success\":true,\"duration_ms\":5}\n";
    for _ in 0..3 {
        let out = env.run_with_stdin(&["record", "cuj", "--stdin"], line);
        assert!(out.status.success());
        env.run_ok(&["ingest", "--compact-after", "0"], 0);
    }
    assert_eq!(
        env.count("cuj_runs", false),
        3,
        "the same event recorded three times"
    );
    let reports = |env: &Env| -> Vec<String> {
        [
            vec!["cuj", "all", "--window", "all"],
            vec!["cuj", "rate", "CUJ-1", "--window", "all"],
            vec!["cuj", "percentiles", "CUJ-1", "--window", "all"],
        ]
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a.extend(["--now", "2026-11-28T12:00:00Z", "--format", "json"]);
            String::from_utf8(env.run_ok(&a, 0).stdout).unwrap()
        })
        .collect()
    };
    let before = reports(&env);
    env.run_ok(&["compact", "--grace", "0s"], 0);
    // A source that really holds an event three times is counted three times (as the original
    // tools count it): compaction merges files, it never drops rows.
    assert_eq!(env.count("cuj_runs", false), 3);
    assert_eq!(reports(&env), before);
    assert_eq!(live_files(&env), vec!["2026-11-28,1"]);
}

#[test]
fn ingest_compacts_crowded_partitions() {
    let env = Env::new();
    ingest_rounds(&env, 5, "3");
    let before = env.csv_rows(ANSWER);
    for row in live_files(&env) {
        let files: u32 = row.split(',').nth(1).unwrap().parse().unwrap();
        assert!(files <= 3, "{row}");
    }
    assert_eq!(before[0].split(',').next(), Some("600"));
}

#[test]
fn doctor_reports_small_files_and_quarantine_with_actions() {
    let env = Env::new();
    ingest_rounds(&env, 5, "0");
    let ctx = env.path("ctx/analytics");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("cuj-metrics.jsonl"),
        "{\"timestamp\":\"2026-11-28T01:00:00.000Z\",\"cuj_id\":\"CUJ-9\",\"success\":true}\n{not json\n",
    )
    .unwrap();
    env.run_ok(
        &[
            "ingest",
            "--source",
            env.path("ctx").to_str().unwrap(),
            "--compact-after",
            "0",
        ],
        3,
    );
    let doctor = |env: &Env| -> serde_json::Value {
        serde_json::from_slice(&env.run_ok(&["doctor", "--format", "json"], 0).stdout).unwrap()
    };
    let d = doctor(&env);
    let check = |d: &serde_json::Value, name: &str| {
        d["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap()
    };
    let small = check(&d, "small files");
    assert_eq!(small["status"], "warn", "{small}");
    assert_eq!(small["action"], "run: obsq compact");
    let q = check(&d, "quarantine");
    assert_eq!(q["status"], "warn");
    assert!(q["detail"].as_str().unwrap().starts_with("1 lines"), "{q}");
    assert!(
        d["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["action"] == "obsq compact --stream cuj_runs --date 2026-11-27")
    );
    assert_eq!(d["quarantine"][0]["first_line"], 2);
    // The same findings as a system table.
    let rows = env.csv_rows("SELECT \"check\", status FROM system.health ORDER BY \"check\"");
    assert!(rows.contains(&"small files,warn".to_string()), "{rows:?}");
    // Following the advice clears the finding.
    env.run_ok(&["compact"], 0);
    assert_eq!(check(&doctor(&env), "small files")["status"], "ok");
}
