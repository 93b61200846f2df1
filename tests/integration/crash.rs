//! Crash safety: ingest, backfill, compact and repair killed with SIGKILL at many points (the
//! commit's own among them: between creating the log record and updating the index), then one
//! clean run: every stream's row count is exact, and after the grace periods nothing is left in
//! staging or unnamed in data/.

use std::collections::BTreeSet;
use std::time::Duration;

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
        "logged:1",
        "logged:3",
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
    assert_no_orphans(&env);
    assert_exact(&env, "the orphan sweep");
}

/// Generates `rows` events into `dir` (seeded), over four days.
fn generate(env: &Env, dir: &std::path::Path, rows: u32, seed: usize) {
    env.generate(dir, rows, seed, 4);
}

fn killed(env: &Env, args: &[&str], fault: &str) -> Option<i32> {
    let mut cmd = env.cmd(args);
    cmd.env("OBSQ_FAULT", fault)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd.status().expect("run").code()
}

fn assert_exact(env: &Env, what: &str) {
    for (table, prefix) in TABLES {
        assert_eq!(
            env.count(table, false),
            expected(env, prefix),
            "{table}: rows after {what}"
        );
    }
}

/// After the grace periods, disk holds exactly the live files and nothing in staging.
fn assert_no_orphans(env: &Env) {
    env.run_ok(&["compact", "--grace", "0s", "--orphan-grace", "0s"], 0);
    let staging = files_with_suffix(&env.root().join("staging"), "");
    assert!(staging.is_empty(), "staging files left: {staging:?}");
    let on_disk: BTreeSet<String> = files_with_suffix(&env.root().join("data"), ".parquet")
        .iter()
        .map(|p| p.strip_prefix(env.root()).unwrap().display().to_string())
        .collect();
    let listed: BTreeSet<String> = env
        .csv_rows("SELECT path FROM system.files WHERE kind = 'data' AND state = 'live'")
        .into_iter()
        .collect();
    assert_eq!(on_disk, listed, "disk = live files after the grace period");
}

/// Kill points shared by every writer (the commit) plus each command's own.
const COMMIT_POINTS: [&str; 6] = [
    "staged:1",
    "renamed:1",
    "before-commit:1",
    "logged:1",
    "committed:1",
    "logged:2",
];

#[test]
fn backfill_killed_at_ten_points_resumes_exactly() {
    let env = Env::new();
    let src = env.path("src");
    let mut kills = 0;
    let points = [
        "decoded:1",
        "decoded:2",
        "staged:2",
        "before-commit:2",
        "committed:2",
    ];
    for (i, fault) in COMMIT_POINTS.iter().chain(points.iter()).enumerate() {
        generate(&env, &src.join(format!("s{i:02}")), 3000, 100 + i);
        let code = killed(
            &env,
            &["backfill", src.to_str().unwrap(), "--memory-mb", "1"],
            fault,
        );
        kills += code.is_none() as u32;
    }
    assert!(kills >= 10, "only {kills} backfills were killed");
    let out = env.run(&["backfill", src.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_exact(&env, "killed backfills and one clean run");
    // Backfilling the same files again adds nothing.
    env.run_ok(&["backfill", src.to_str().unwrap()], 0);
    assert_exact(&env, "a second backfill");
    assert_no_orphans(&env);
    assert_exact(&env, "the orphan sweep");
}

#[test]
fn compact_killed_at_ten_points_never_changes_an_answer() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    env.run_ok(&["source", "add", src.to_str().unwrap()], 0);
    for i in 0..6 {
        generate(&env, &src.join(format!("s{i:02}")), 2000, 200 + i);
        env.run_ok(&["ingest", "--compact-after", "0"], 0);
    }
    assert_exact(&env, "six ingests");
    let points = [
        "compact-written:1",
        "compact-written:3",
        "renamed:3",
        "logged:4",
        "committed:5",
    ];
    let mut kills = 0;
    for fault in COMMIT_POINTS.iter().chain(points.iter()) {
        let code = killed(&env, &["compact", "--min-files", "2"], fault);
        kills += code.is_none() as u32;
        assert_exact(&env, &format!("compact killed at {fault}"));
        // New small files keep arriving between the kills, so every run has work to do.
        let i = kills as usize + 10;
        generate(&env, &src.join(format!("s{i:02}")), 500, 200 + i);
        env.run_ok(&["ingest", "--compact-after", "0"], 0);
    }
    assert!(kills >= 10, "only {kills} compactions were killed");
    env.run_ok(&["compact"], 0);
    assert_exact(&env, "killed compactions and one clean run");
    assert_no_orphans(&env);
}

#[test]
fn repair_killed_at_ten_points_restores_exactly() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    env.run_ok(&["source", "add", src.to_str().unwrap()], 0);
    for i in 0..3 {
        generate(&env, &src.join(format!("s{i:02}")), 3000, 300 + i);
        env.run_ok(&["ingest", "--compact-after", "0"], 0);
    }
    // Repair commits once per run and writes one file per damaged partition.
    let points = [
        "repair-written:1",
        "staged:1",
        "renamed:1",
        "before-commit:1",
        "logged:1",
        "committed:1",
        "staged:2",
        "renamed:2",
        "logged:1",
        "repair-written:1",
    ];
    let mut kills = 0;
    for (i, fault) in points.iter().enumerate() {
        // Damage two more live files of different partitions each round (a round whose repair
        // committed restored the earlier ones).
        let live = env.csv_rows(
            "SELECT path FROM system.files WHERE kind = 'data' AND state = 'live' ORDER BY path",
        );
        for k in [i * 7, i * 7 + live.len() / 2] {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(env.root().join(&live[k % live.len()]))
                .unwrap();
            f.set_len(64).unwrap();
        }
        let code = killed(&env, &["repair"], fault);
        kills += code.is_none() as u32;
    }
    assert!(kills >= 10, "only {kills} repairs were killed");
    let out = env.run(&["repair"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.run_ok(&["doctor", "--deep", "--format", "json"], 0);
    assert_exact(&env, "killed repairs and one clean run");
    assert_no_orphans(&env);
}

/// A writer killed inside a local put leaves object_store's temporary file (`name#N`), which
/// the store's listing never shows: the clean-up finds such files on disk — at once in staging,
/// after the orphan grace period in data/, quarantine/ and log/ — and touches nothing else.
#[test]
fn half_written_temporary_files_of_a_killed_writer_are_swept() {
    let env = Env::new();
    let src = env.path("src");
    generate(&env, &src, 2000, 7);
    env.run_ok(&["backfill", src.to_str().unwrap()], 0);
    let live = files_with_suffix(&env.root().join("data"), ".parquet");
    let partition = live[0].parent().unwrap().to_path_buf();
    let planted = [
        env.root().join("staging/0190-part-1.parquet#1"),
        partition.join("part-x.parquet#3"),
        env.root().join("quarantine/q.jsonl.zst#12"),
        env.root().join("log/00000002.json#1"),
    ];
    for p in &planted {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"half").unwrap();
    }
    // Within the orphan grace period only staging (a dead writer's) is cleared.
    env.run_ok(&["compact"], 0);
    assert!(!planted[0].exists(), "staging temp file kept");
    for p in &planted[1..] {
        assert!(
            p.exists(),
            "{} removed inside the grace period",
            p.display()
        );
    }
    env.run_ok(&["compact", "--grace", "0s", "--orphan-grace", "0s"], 0);
    for p in &planted {
        assert!(!p.exists(), "{} left after the grace period", p.display());
    }
    assert_no_orphans(&env);
    assert_exact(&env, "the temporary-file sweep");
}

/// A commit record that lands while its writer is told otherwise — "the key exists" (object_store
/// retries a 5xx, even of a conditional create, and the retry gets 412) or an error (a timeout
/// after the store wrote it) — is taken for the writer's own: the commit is neither refused nor
/// made twice, and the files it names are kept.
#[test]
fn a_commit_whose_answer_was_lost_is_known_as_its_own() {
    // The first record of a run registers the source; the next ones hold data.
    for fault in [
        "record-created:1:lost-reply",
        "record-created:2:lost-reply",
        "record-created:3:timeout",
    ] {
        let env = Env::new();
        let src = env.path("src");
        generate(&env, &src, 5000, 7);
        let mut cmd = env.cmd(&[
            "ingest",
            "--source",
            src.to_str().unwrap(),
            "--memory-mb",
            "2",
        ]);
        cmd.env("OBSQ_FAULT", fault);
        crate::util::expect_code(cmd.output().expect("run"), 0, fault);
        assert_exact(&env, fault);
        let sources = env.scalar(
            "SELECT count(*) FROM system.commits WHERE kind = 'source'",
            false,
        );
        assert_eq!(sources, "1", "{fault}: the source is registered once");
        env.run_ok(&["doctor"], 0);
        env.run_ok(&["ingest"], 0);
        assert_exact(&env, &format!("{fault}, then a second ingest"));
        assert_no_orphans(&env);
    }
}
