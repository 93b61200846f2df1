//! The data root alone is the truth: a lost, garbage or truncated catalog is rebuilt from the
//! commit log with nothing deleted; damaged files are found, named and repaired from the
//! sources; a full disk commits nothing; missing sources make a partial run, not a failed one;
//! values of an unexpected type keep their event.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use crate::util::{Env, copy_tree, files_with_suffix, fixture_context, lines_per_table};

const NOW: &str = "2026-11-28T09:51:50.000Z";

const TABLES: [&str; 4] = [
    "skill_invocations",
    "cuj_runs",
    "progress_events",
    "provider_calls",
];

/// Reports whose output must not change when the catalog is rebuilt.
const REPORTS: &[&[&str]] = &[
    &["cuj", "all", "--window", "all"],
    &["skills", "stats", "--window", "30d"],
    &["provider", "status", "--window", "all"],
    &["progress", "runs"],
    &["cuj", "failures", "--window", "30d"],
];

/// A root with the original tools' fixture files registered and ingested.
fn fixture_env() -> Env {
    let env = Env::new();
    copy_tree(&fixture_context(), &env.path("ctx"));
    let out = env.run(&["ingest", "--source", env.path("ctx").to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

/// Row counts and the reports' JSON.
#[derive(Debug)]
struct Answers(Vec<u64>, Vec<serde_json::Value>);

impl PartialEq for Answers {
    /// Equal counts and equal reports (floats to 1e-12 relative: parallel sums may round
    /// differently in the last bit).
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
            && self.1.len() == other.1.len()
            && self
                .1
                .iter()
                .zip(&other.1)
                .all(|(a, b)| crate::golden::same(a, b, "").is_ok())
    }
}

fn answers(env: &Env) -> Answers {
    let counts = TABLES.iter().map(|t| env.count(t, false)).collect();
    let reports = REPORTS
        .iter()
        .map(|args| {
            let mut a: Vec<&str> = args.to_vec();
            a.extend(["--now", NOW, "--format", "json"]);
            serde_json::from_slice(&env.run_ok(&a, 0).stdout).unwrap()
        })
        .collect();
    Answers(counts, reports)
}

fn data_files(env: &Env) -> BTreeSet<String> {
    ["data", "quarantine"]
        .iter()
        .flat_map(|d| files_with_suffix(&env.root().join(d), ""))
        .map(|p| p.strip_prefix(env.root()).unwrap().display().to_string())
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_lost_garbage_or_truncated_catalog_is_rebuilt_and_nothing_is_deleted() {
    let env = fixture_env();
    let before = answers(&env);
    let files = data_files(&env);
    assert!(files.len() > 10, "{files:?}");
    let catalog = env.root().join("catalog.sqlite");
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("deleted", |p| std::fs::remove_file(p).unwrap()),
        ("garbage", |p| {
            let n = std::fs::metadata(p).unwrap().len() as usize;
            let junk: Vec<u8> = (0..n).map(|i| (i * 7919 % 251) as u8).collect();
            std::fs::write(p, junk).unwrap();
        }),
        ("truncated", |p| {
            let n = std::fs::metadata(p).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(n / 2).unwrap();
        }),
    ];
    for (what, damage) in damages {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(env.root().join(format!("catalog.sqlite{suffix}")));
        }
        damage(&catalog);
        // The first command after the damage says that it rebuilt the index.
        let out = env.run_ok(&["sql", "SELECT count(*) FROM cuj_runs", "--no-fresh"], 0);
        assert!(
            stderr(&out).contains("rebuilt from the commit log"),
            "{what}: {}",
            stderr(&out)
        );
        assert!(answers(&env) == before, "{what}: answers after the rebuild");
        assert_eq!(data_files(&env), files, "{what}: files after the rebuild");
        // A writer on the rebuilt index deletes nothing and adds nothing.
        env.run_ok(&["ingest"], 0);
        env.run_ok(&["compact", "--grace", "0s", "--orphan-grace", "0s"], 0);
        assert_eq!(
            answers(&env),
            before,
            "{what}: answers after ingest + compact"
        );
    }
    // A writer that finds the catalog missing rebuilds it too (and still deletes nothing).
    std::fs::remove_file(&catalog).unwrap();
    let out = env.run_ok(&["ingest"], 0);
    assert!(stderr(&out).contains("rebuilt"), "{}", stderr(&out));
    assert!(answers(&env) == before);
}

#[test]
fn every_data_file_names_its_commit_stream_and_date() {
    let env = fixture_env();
    let commits = env.csv_rows("SELECT commit_id FROM system.commits");
    for f in files_with_suffix(&env.root().join("data"), ".parquet") {
        let file = std::fs::File::open(&f).unwrap();
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&file)
            .unwrap();
        let kv: std::collections::HashMap<String, String> = meta
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .iter()
            .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
            .collect();
        let p = f.display().to_string();
        assert!(commits.contains(&kv["obsq.commit"]), "{p}: {kv:?}");
        assert!(p.contains(&format!("/{}/", kv["obsq.stream"])), "{p}");
        assert!(p.contains(&format!("/date={}/", kv["obsq.date"])), "{p}");
    }
}

/// One generated source folder of `rows` events, over three days.
fn generate(env: &Env, dir: &str, rows: u32, seed: u32) -> std::path::PathBuf {
    let out = env.path(dir);
    env.generate(&out, rows, seed as usize, 3);
    out
}

fn counts(env: &Env) -> Vec<u64> {
    TABLES.iter().map(|t| env.count(t, false)).collect()
}

/// `ingest --source` registers its directory in the log, in a commit of its own before the data
/// (none when it is registered already): a later plain `ingest`, with a catalog rebuilt from the
/// log, reads what the directory holds by then.
#[test]
fn ingest_with_a_source_registers_it_in_the_log_before_its_data() {
    let env = Env::new();
    let a = generate(&env, "a", 2000, 1);
    env.run_ok(&["ingest", "--source", a.to_str().unwrap()], 0);
    env.run_ok(&["ingest", "--source", a.to_str().unwrap()], 0);
    generate(&env, "a/more", 1000, 2);
    std::fs::remove_file(env.root().join("catalog.sqlite")).unwrap();
    env.run_ok(&["ingest"], 0);
    assert_eq!(counts(&env), lines_per_table(&[&a]));
    let kinds = env.csv_rows("SELECT kind FROM system.commits ORDER BY seq");
    assert_eq!(kinds[..2], ["source", "ingest"], "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "source").count(),
        1,
        "{kinds:?}"
    );
}

/// `system.ingest_lag` says how many bytes of each source are not ingested yet, whether the
/// query reads the fresh tail or not (without it, the sources are read only for that table).
#[test]
fn ingest_lag_counts_the_bytes_not_ingested_with_or_without_the_fresh_tail() {
    let env = Env::new();
    let a = generate(&env, "a", 2000, 1);
    env.run_ok(&["ingest", "--source", a.to_str().unwrap()], 0);
    let lag = |fresh: bool| env.scalar("SELECT sum(lag_bytes) FROM system.ingest_lag", fresh);
    assert_eq!((lag(true), lag(false)), ("0".to_string(), "0".to_string()));
    let skill = files_with_suffix(&a, ".jsonl")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("skill-invocations-"))
        .unwrap();
    let line = "{\"timestamp\":\"2026-11-20T10:00:00.000Z\",\"skill\":\"x\",\"result\":\"success\",\"duration_ms\":1}\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&skill)
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let n = line.len().to_string();
    assert_eq!((lag(true), lag(false)), (n.clone(), n));
    env.run_ok(&["ingest"], 0);
    assert_eq!(lag(false), "0");
}

#[test]
fn damaged_files_are_named_and_repaired_from_the_sources() {
    let env = Env::new();
    let a = generate(&env, "a", 3000, 1);
    let b = generate(&env, "b", 3000, 2);
    env.run_ok(&["source", "add", a.to_str().unwrap()], 0);
    env.run_ok(&["ingest", "--compact-after", "0"], 0);
    env.run_ok(&["source", "add", b.to_str().unwrap()], 0);
    env.run_ok(&["ingest", "--compact-after", "0"], 0);
    // Two ingests, then a compaction: repair must follow a merged file back to its sources.
    env.run_ok(&["compact", "--stream", "cuj"], 0);
    let want = lines_per_table(&[&a, &b]);
    assert_eq!(counts(&env), want);
    let live = env.csv_rows(
        "SELECT path, rows FROM system.files WHERE kind = 'data' AND state = 'live' ORDER BY stream, path",
    );
    let path_of = |row: &str| row.split(',').next().unwrap().to_string();
    let cuj = live
        .iter()
        .find(|r| r.contains("/cuj_runs/"))
        .map(|r| path_of(r))
        .unwrap();
    let skill = live
        .iter()
        .find(|r| r.contains("/skill_invocations/"))
        .map(|r| path_of(r))
        .unwrap();
    // One file truncated, another deleted.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(env.root().join(&cuj))
        .unwrap();
    f.set_len(100).unwrap();
    std::fs::remove_file(env.root().join(&skill)).unwrap();
    let out = env.run_ok(&["doctor", "--format", "json"], 1);
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let damaged: Vec<&str> = d["damaged_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(
        damaged.contains(&cuj.as_str()) && damaged.contains(&skill.as_str()),
        "{d}"
    );
    assert_eq!(d["checks"][0]["status"], "error", "{d}");
    // A query over a damaged stream fails with one line that names a damaged file.
    let out = env.run(&["sql", "SELECT count(*), sum(duration_ms) FROM cuj_runs"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&cuj) && err.contains("obsq repair"), "{err}");
    // Repair restores every row from the sources.
    let out = env.run_ok(&["repair", "--format", "json"], 0);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lost: u64 = r
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lost"].as_u64().unwrap())
        .sum();
    assert_eq!(lost, 0, "{r}");
    assert_eq!(counts(&env), want, "rows after repair");
    env.run_ok(&["doctor", "--deep", "--format", "json"], 0);
    // With a source gone too, repair says exactly how many rows it cannot bring back.
    let live = env.csv_rows(
        "SELECT path, rows FROM system.files WHERE kind = 'data' AND state = 'live' AND stream = 'provider_calls' ORDER BY path",
    );
    let (victim, rows) = live[0].split_once(',').unwrap();
    let rows: u64 = rows.parse().unwrap();
    std::fs::remove_file(env.root().join(victim)).unwrap();
    for p in files_with_suffix(&a, ".jsonl") {
        std::fs::remove_file(p).unwrap();
    }
    for p in files_with_suffix(&b, ".jsonl") {
        std::fs::remove_file(p).unwrap();
    }
    let out = env.run_ok(&["repair", "--format", "json"], 1);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r[0]["lost"].as_u64(), Some(rows), "{r}");
    assert_eq!(r[0]["restored"].as_u64(), Some(0), "{r}");
    assert!(
        stderr(&out).contains(&format!("{rows} rows lost for good")),
        "{}",
        stderr(&out)
    );
    let mut want_now = want.clone();
    want_now[3] -= rows;
    assert_eq!(counts(&env), want_now);
}

#[test]
fn a_full_disk_commits_nothing_and_leaves_nothing() {
    let env = Env::new();
    let a = generate(&env, "a", 4000, 3);
    env.run_ok(&["source", "add", a.to_str().unwrap()], 0);
    let log_before = files_with_suffix(&env.root().join("log"), ".json").len();
    let out = env
        .cmd(&["ingest"])
        .env("OBSQ_FAULT", "write:2:enospc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(
        files_with_suffix(&env.root().join("log"), ".json").len(),
        log_before,
        "nothing committed"
    );
    assert!(data_files(&env).is_empty(), "{:?}", data_files(&env));
    assert!(files_with_suffix(&env.root().join("staging"), "").is_empty());
    env.run_ok(&["ingest"], 0);
    assert_eq!(counts(&env), lines_per_table(&[&a]));
}

#[test]
fn a_real_full_disk_where_tests_may_mount_one() {
    // As root (CI), a small tmpfs is a real full disk; elsewhere the fault hook above stands in.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let env = Env::new();
    let a = generate(&env, "a", 40_000, 4);
    let mnt = env.path("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let mount = |opts: &str| {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs", mnt.to_str().unwrap()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !mount("size=256k") {
        return; // no mount privilege in this sandbox
    }
    let root = mnt.join("root");
    let run = |args: &[&str]| {
        std::process::Command::new(crate::util::bin())
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("OBSQ_FAULT")
            .output()
            .unwrap()
    };
    let out = run(&[
        "ingest",
        "--source",
        a.to_str().unwrap(),
        "--memory-mb",
        "4",
    ]);
    let code = out.status.code();
    // Freed space: the same mount, larger.
    let grown = std::process::Command::new("mount")
        .args(["-o", "remount,size=64m", mnt.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(grown);
    // The disk fills while a data file, a log record or the index is written: the first two
    // commit nothing; the last fails after its record exists (that commit stands, and the next
    // command catches the index up). Either way: one clear line, exit 2, exact counts after.
    assert_eq!(code, Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("No space left") || err.contains("disk is full"),
        "{err}"
    );
    let out = run(&["ingest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got: Vec<u64> = TABLES
        .iter()
        .map(|t| {
            let o = run(&[
                "sql",
                &format!("SELECT count(*) FROM {t}"),
                "--no-fresh",
                "--format",
                "csv",
            ]);
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    assert_eq!(got, lines_per_table(&[&a]));
}

#[test]
fn missing_sources_make_a_partial_run_and_can_be_removed() {
    let env = Env::new();
    let a = generate(&env, "a", 2000, 5);
    let b = generate(&env, "b", 2000, 6);
    // A typo is refused before it is registered.
    let out = env.run(&["ingest", "--source", env.path("typo").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(env.csv_rows("SELECT path FROM system.sources").is_empty());
    env.run_ok(&["source", "add", a.to_str().unwrap()], 0);
    env.run_ok(&["source", "add", b.to_str().unwrap()], 0);
    let moved = env.path("moved");
    std::fs::rename(&b, &moved).unwrap();
    let out = env.run_ok(&["ingest"], 4);
    assert!(stderr(&out).contains("is missing"), "{}", stderr(&out));
    assert_eq!(
        counts(&env),
        lines_per_table(&[&a]),
        "the other source was ingested"
    );
    // Queries still work, and say nothing about it.
    env.run_ok(&["cuj", "all", "--now", NOW], 0);
    env.run_ok(&["source", "remove", b.to_str().unwrap()], 0);
    env.run_ok(&["ingest"], 0);
    // A file that disappears after the sources were listed is skipped with a warning.
    let c = generate(&env, "c", 2000, 7);
    env.run_ok(&["source", "add", c.to_str().unwrap()], 0);
    let child = env
        .cmd(&["ingest"])
        .env("OBSQ_FAULT", "sources-found:1:pause=1500")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let gone = files_with_suffix(&c, "cuj-metrics.jsonl");
    std::fs::remove_file(&gone[0]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("disappeared"), "{}", stderr(&out));
    let mut want = lines_per_table(&[&a]);
    let more = lines_per_table(&[&c]);
    for i in 0..4 {
        want[i] += more[i];
    }
    assert_eq!(counts(&env), want);
}

/// Hundreds of source folders of a few lines each (one per agent session): every line is read
/// once, a bad line is named by its own file and line, a partial last line waits for its end,
/// and lines appended later are read on the next run.
#[test]
fn many_small_sources_are_each_read_once_with_their_own_line_numbers() {
    let env = Env::new();
    let dir = env.path("sessions");
    let line = |i: usize, k: usize| {
        format!(
            "{{\"timestamp\":\"2026-11-{:02}T10:{:02}:{:02}.000Z\",\"skill\":\"s{i}\",\"agent\":\"a\",\"result\":\"success\",\"duration_ms\":{k}}}\n",
            1 + i % 28,
            k,
            i % 60
        )
    };
    let mut valid = 0u64;
    let mut bad = Vec::new();
    let mut partial = Vec::new();
    for i in 0..300 {
        let logs = dir.join(format!("s{i:03}")).join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let file = logs.join(format!("skill-invocations-2026-11-{:02}.jsonl", 1 + i % 28));
        let mut text = String::new();
        for k in 0..5 {
            if i % 50 == 7 && k == 2 {
                text.push_str("{\"timestamp\": not json\n");
                bad.push(format!("{}:3", file.display()));
            } else {
                text.push_str(&line(i, k));
                valid += 1;
            }
        }
        if i % 70 == 3 {
            text.push_str("{\"timestamp\":\"2026-11-20T10:00:00.000Z\",\"skill\":\"p");
            partial.push(file.clone());
        }
        std::fs::write(&file, text).unwrap();
    }
    env.run_ok(&["ingest", "--source", dir.to_str().unwrap()], 3);
    assert_eq!(env.count("skill_invocations", false), valid);
    let mut named = env.csv_rows("SELECT source || ':' || line_no FROM system.quarantine");
    named.sort();
    bad.sort();
    assert_eq!(named, bad);

    // The partial lines end, and some files grow: only the new lines are read.
    for f in &partial {
        let mut text = std::fs::read_to_string(f).unwrap();
        text.push_str("artial\",\"agent\":\"a\",\"result\":\"success\"}\n");
        text.push_str(&line(999, 59));
        std::fs::write(f, text).unwrap();
    }
    env.run_ok(&["ingest"], 0);
    let more = 2 * partial.len() as u64;
    assert_eq!(env.count("skill_invocations", false), valid + more);
    env.run_ok(&["ingest"], 0);
    assert_eq!(env.count("skill_invocations", false), valid + more);
    assert_eq!(
        env.scalar("SELECT count(*) FROM system.quarantine", false),
        bad.len().to_string()
    );
}

/// A source directory whose JSONL files are not named as the original tools name theirs is
/// read as nothing, and says so (it used to succeed with zero sources, silently).
#[test]
fn jsonl_files_of_other_names_are_named_with_the_way_to_import_them() {
    let env = Env::new();
    let dir = env.path("other");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let line = "{\"timestamp\":\"2026-11-20T10:00:00.000Z\",\"skill\":\"s\"}\n";
    std::fs::write(dir.join("logs").join("skills.jsonl"), line).unwrap();
    let out = env.run_ok(&["ingest", "--source", dir.to_str().unwrap()], 0);
    let err = stderr(&out);
    assert!(
        err.contains("1 other JSONL file") && err.contains("skills.jsonl"),
        "{err}"
    );
    assert!(err.contains("obsq backfill"), "{err}");
    // Beside a source file, other JSONL files are not worth a word.
    std::fs::write(
        dir.join("logs").join("skill-invocations-2026-11-20.jsonl"),
        line,
    )
    .unwrap();
    let out = env.run_ok(&["ingest"], 0);
    assert!(!stderr(&out).contains("not read"), "{}", stderr(&out));
    assert_eq!(env.count("skill_invocations", false), 1);
}

#[test]
fn a_second_writer_waits_then_names_the_holder() {
    let env = Env::new();
    generate(&env, "a", 500, 8);
    env.run_ok(&["source", "add", env.path("a").to_str().unwrap()], 0);
    let mut holder = env
        .cmd(&["ingest"])
        .env("OBSQ_FAULT", "sources-found:1:pause=3000")
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let out = env
        .cmd(&["ingest"])
        .env("OBSQ_LOCK_TIMEOUT", "300ms")
        .output()
        .unwrap();
    let pid = holder.id();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("pid {pid}")),
        "{}",
        stderr(&out)
    );
    assert!(holder.wait().unwrap().success());
}

#[test]
fn values_of_an_unexpected_type_keep_their_event() {
    let env = Env::new();
    let progress = "{\"timestamp\":\"2026-11-28T01:00:00Z\",\"run_id\":\"r1\",\"step\":\"install\",\"step_index\":1,\"total_steps\":3,\"percent\":33,\"status\":\"running\"}\n\
                    {\"timestamp\":\"2026-11-28T01:00:05Z\",\"run_id\":\"r1\",\"step\":\"test\",\"status\":\"running\",\"percentage\":\"half\"}\n\
                    {\"timestamp\":\"2026-11-28T01:00:09Z\",\"run_id\":\"r1\",\"step\":3,\"status\":\"completed\",\"percentage\":100}\n";
    let skills = "{\"timestamp\":\"2026-11-28T01:00:00Z\",\"skill\":\"s\",\"duration_ms\":\"fast\",\"result\":\"success\"}\n\
                  {\"timestamp\":\"2026-11-28T01:00:01Z\",\"skill\":\"s\",\"duration_ms\":12,\"cache_hit\":\"maybe\"}\n\
                  {\"timestamp\":\"2026-11-28T01:00:02Z\",\"skill\":{\"name\":\"s\"}}\n";
    let dir = env.path("ctx/logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("progress.jsonl"), progress).unwrap();
    std::fs::write(dir.join("skill-invocations-2026-11-28.jsonl"), skills).unwrap();
    // The skill whose key field is an object cannot be placed: quarantined (exit 3).
    env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        3,
    );
    assert_eq!(
        env.count("progress_events", false),
        3,
        "every progress line a row"
    );
    assert_eq!(env.count("skill_invocations", false), 2);
    let rows = env.csv_rows("SELECT step, percentage, extra FROM progress_events ORDER BY ts");
    // `percent` is no column of obsq's (so `percentage` takes its default); `step` is null.
    assert_eq!(
        rows[0],
        r#",0,"{""step"":""install"",""step_index"":1,""total_steps"":3,""percent"":33}""#
    );
    assert!(rows[1].starts_with(",,"), "{rows:?}");
    assert!(
        rows[1].contains("\"\"percentage\"\":\"\"half\"\""),
        "{rows:?}"
    );
    assert!(rows[2].starts_with("3,100,"), "{rows:?}");
    let rows =
        env.csv_rows("SELECT duration_ms, cache_hit, extra FROM skill_invocations ORDER BY ts");
    assert!(rows[0].starts_with(",false,"), "{rows:?}");
    assert!(
        rows[0].contains("\"\"duration_ms\"\":\"\"fast\"\""),
        "{rows:?}"
    );
    assert!(rows[1].starts_with("12,,"), "{rows:?}");
    let drift = env.csv_rows(
        "SELECT stream, field, kind, seen_type, line, count FROM system.schema_drift WHERE kind = 'type_mismatch' ORDER BY stream, field",
    );
    assert_eq!(
        drift,
        vec![
            "progress_events,percentage,type_mismatch,string,2,1",
            "progress_events,step,type_mismatch,string,1,2",
            "skill_invocations,cache_hit,type_mismatch,string,2,1",
            "skill_invocations,duration_ms,type_mismatch,string,1,1",
        ]
    );
}

/// Lines whose field names never repeat (a field per request) name the first 1,000 fields of a
/// stream and count the rest under `*`, across ingests and after a rebuild from the log alone;
/// every count is kept and every value stays in `extra`.
#[test]
fn fields_of_their_own_on_every_line_are_counted_not_each_named() {
    let env = Env::new();
    let dir = env.path("ctx/logs");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("skill-invocations-2026-11-28.jsonl");
    let lines = |from: u32, to: u32, late: &str| -> String {
        (from..to)
            .map(|i| {
                format!(
                    "{{\"timestamp\":\"2026-11-28T01:00:00Z\",\"skill\":\"s\",\"odd\":1,\"f_{i}\":{i}{late}}}\n"
                )
            })
            .collect()
    };
    std::fs::write(&file, lines(0, 1500, "")).unwrap();
    env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        0,
    );
    let drift = |env: &Env| {
        env.csv_rows(
            "SELECT field = '*', count(*), sum(count), min(line), max(line) FROM system.schema_drift GROUP BY field = '*' ORDER BY 1",
        )
    };
    // `odd` and f_0 ... f_998 named; f_999 ... f_1499 (from line 1000) counted under `*`.
    assert_eq!(
        drift(&env),
        ["false,1000,2499,1,999", "true,1,501,1000,1000"]
    );
    assert_eq!(
        env.csv_rows("SELECT count FROM system.schema_drift WHERE field = 'odd'"),
        ["1500"]
    );
    // A later ingest: `odd` counts on, new fields (and the new `late`) go under `*`.
    let mut more = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    std::io::Write::write_all(&mut more, lines(1500, 2200, ",\"late\":true").as_bytes()).unwrap();
    env.run_ok(&["ingest"], 0);
    let after = drift(&env);
    assert_eq!(after, ["false,1000,3199,1,999", "true,1,1901,1000,1000"]);
    assert_eq!(
        env.csv_rows("SELECT count FROM system.schema_drift WHERE field = 'odd'"),
        ["2200"]
    );
    let doctor = env.run_ok(&["doctor", "--format", "csv"], 0);
    assert!(
        String::from_utf8_lossy(&doctor.stdout)
            .contains("1000 unknown fields seen and more, counted under field '*'"),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );
    assert_eq!(
        env.csv_rows(
            "SELECT count(*) FROM skill_invocations WHERE extra LIKE '%\"f_2199\":2199,\"late\":true}'"
        ),
        ["1"]
    );
    // The index follows the log: rebuilt, it names the same fields with the same counts.
    let rows = "SELECT stream, field, kind, seen_type, source, line, count FROM system.schema_drift ORDER BY stream, field, kind, seen_type";
    let before = env.csv_rows(rows);
    std::fs::remove_file(env.root().join("catalog.sqlite")).unwrap();
    assert_eq!(env.csv_rows(rows), before);
}

/// The root in `tests/fixtures/legacy-root` was written by obsq before the commit log existed
/// (commit 4d85784; see `tests/fixtures/legacy-root.md`): the fixture files backfilled, five CUJ
/// runs recorded and ingested in two rounds, one stream compacted, one more run recorded but not
/// ingested.
#[test]
fn a_store_written_before_the_commit_log_opens_answers_and_compacts() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-root");
    let env = Env::new();
    copy_tree(&fixture, &env.root());
    // The same inputs given to this build, for the answers to compare with.
    let fresh = Env::new();
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-inputs");
    let out = fresh.run(&[
        "backfill",
        fixture_context().to_str().unwrap(),
        inputs.to_str().unwrap(),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    let runs = [
        ("2026-11-26T01:00:00.000Z", "CUJ-L1", true, 100),
        ("2026-11-26T02:00:00.000Z", "CUJ-L2", false, 200),
        ("2026-11-27T03:00:00.000Z", "CUJ-L1", true, 300),
        ("2026-11-26T04:00:00.000Z", "CUJ-L1", true, 400),
        ("2026-11-27T05:00:00.000Z", "CUJ-L2", true, 500),
    ];
    let lines: String = runs
        .iter()
        .map(|(ts, c, ok, d)| {
            format!("{{\"timestamp\":\"{ts}\",\"cuj_id\":\"{c}\",\"success\":{ok},\"duration_ms\":{d}}}\n")
        })
        .collect();
    assert!(
        fresh
            .run_with_stdin(&["record", "cuj", "--stdin"], &lines)
            .status
            .success()
    );
    fresh.run_ok(&["ingest"], 0);
    // First use: upgraded, said once, nothing lost.
    let out = env.run_ok(&["sql", "SELECT count(*) FROM cuj_runs", "--no-fresh"], 0);
    assert!(
        stderr(&out).contains("upgraded the data root"),
        "{}",
        stderr(&out)
    );
    assert!(
        env.root()
            .join("log")
            .join(format!("{:020}.json", 1))
            .is_file()
    );
    let committed = |e: &Env| -> Vec<u64> { TABLES.iter().map(|t| e.count(t, false)).collect() };
    assert_eq!(committed(&env), committed(&fresh));
    for args in REPORTS {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--now", NOW, "--format", "json", "--no-fresh"]);
        let got: serde_json::Value = serde_json::from_slice(&env.run_ok(&a, 0).stdout).unwrap();
        let want: serde_json::Value = serde_json::from_slice(&fresh.run_ok(&a, 0).stdout).unwrap();
        if let Err(e) = crate::golden::same(&want, &got, "") {
            panic!("{args:?} on the upgraded root: {e}");
        }
    }
    // The ledger came through: the one event recorded before the upgrade, and only it, is new.
    let cuj = env.count("cuj_runs", false);
    env.run_ok(&["ingest", "--compact-after", "0"], 0);
    assert_eq!(env.count("cuj_runs", false), cuj + 1);
    // Old files and new ones compact together; nothing changes.
    let before = committed(&env);
    env.run_ok(&["compact", "--grace", "0s", "--orphan-grace", "0s"], 0);
    assert_eq!(committed(&env), before);
    env.run_ok(&["doctor", "--deep", "--format", "json"], 0);
    // And the index can be lost like any other.
    std::fs::remove_file(env.root().join("catalog.sqlite")).unwrap();
    assert_eq!(committed(&env), before);
}

#[test]
fn a_column_added_later_reads_as_null_in_old_files_and_compacts() {
    // A file written before a stream had one of today's columns: the table reads it as null,
    // and compaction merges it with new files without rewriting anything else.
    let env = Env::new();
    let line = "{\"timestamp\":\"2026-11-28T01:00:00Z\",\"provider\":\"p\",\"model\":\"m\",\"success\":true,\"latency_ms\":5}\n";
    assert!(
        env.run_with_stdin(&["record", "provider", "--stdin"], line)
            .status
            .success()
    );
    env.run_ok(&["ingest", "--compact-after", "0"], 0);
    // Rewrite the committed file without its `model` column, as an older release would have
    // written it (same rows; the log is told its new size below).
    let f = files_with_suffix(&env.root().join("data/provider_calls"), ".parquet")
        .pop()
        .unwrap();
    let old = drop_column(&f, "model");
    std::fs::write(&f, &old).unwrap();
    fix_recorded_size(&env, &f, old.len() as u64);
    assert_eq!(
        env.csv_rows("SELECT provider, model FROM provider_calls"),
        vec!["p,"]
    );
    let line2 = line.replace("01:00", "02:00");
    assert!(
        env.run_with_stdin(&["record", "provider", "--stdin"], &line2)
            .status
            .success()
    );
    env.run_ok(&["ingest", "--compact-after", "0"], 0);
    env.run_ok(&["compact", "--grace", "0s"], 0);
    assert_eq!(
        env.csv_rows("SELECT provider, model FROM provider_calls ORDER BY ts"),
        vec!["p,", "p,m"]
    );
    assert_eq!(
        env.csv_rows("SELECT count(*) FROM system.files WHERE kind = 'data' AND state = 'live'"),
        vec!["1"]
    );
}

fn drop_column(path: &Path, name: &str) -> Vec<u8> {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned();
    let batches: Vec<_> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != name)
        .collect();
    let mut out = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(kv)
        .build();
    let projected = std::sync::Arc::new(schema.project(&keep).unwrap());
    let mut w = ArrowWriter::try_new(&mut out, projected, Some(props)).unwrap();
    for b in &batches {
        w.write(&b.project(&keep).unwrap()).unwrap();
    }
    w.close().unwrap();
    out
}

/// Tests only: edits the record that added `file` so that the log agrees with its new size, then
/// drops the index so that the next command rebuilds it from the log.
fn fix_recorded_size(env: &Env, file: &Path, bytes: u64) {
    let rel = file.strip_prefix(env.root()).unwrap().display().to_string();
    for rec in files_with_suffix(&env.root().join("log"), ".json") {
        let text = std::fs::read_to_string(&rec).unwrap();
        if !text.contains(&rel) {
            continue;
        }
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for f in v["add"].as_array_mut().unwrap() {
            if f["path"] == rel.as_str() {
                f["bytes"] = bytes.into();
            }
        }
        std::fs::write(&rec, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
    // The index follows the log: drop it and let the next command rebuild it.
    std::fs::remove_file(env.root().join("catalog.sqlite")).unwrap();
}

#[test]
fn a_rebuild_replays_from_the_last_checkpoint() {
    let env = Env::new();
    for i in 0..52 {
        let line = format!(
            "{{\"timestamp\":\"2026-11-28T01:{:02}:00Z\",\"cuj_id\":\"C{}\",\"success\":true}}\n",
            i % 60,
            i % 3
        );
        assert!(
            env.run_with_stdin(&["record", "cuj", "--stdin"], &line)
                .status
                .success()
        );
        env.run_ok(&["ingest", "--compact-after", "0"], 0);
    }
    let cp = env
        .root()
        .join("log")
        .join(format!("{:020}.checkpoint.json", 50));
    assert!(cp.is_file(), "a checkpoint every 50 commits");
    let commits = env.csv_rows("SELECT count(*) FROM system.commits");
    std::fs::remove_file(env.root().join("catalog.sqlite")).unwrap();
    let out = env.run_ok(
        &[
            "sql",
            "SELECT count(*) FROM cuj_runs",
            "--no-fresh",
            "--format",
            "csv",
        ],
        0,
    );
    assert!(
        stderr(&out).contains("checkpoint 50 + 2 records"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().nth(1),
        Some("52")
    );
    assert_eq!(env.csv_rows("SELECT count(*) FROM system.commits"), commits);
}
