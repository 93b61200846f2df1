//! Object-store roots (DESIGN §8) on real S3-compatible servers on 127.0.0.1: Garage (a
//! production server, which ignores conditional writes) for the S3 paths, moto (which honours
//! them) for many writers committing into one root at once.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::golden;
use crate::servers::{Kind, Machine, S3};
use crate::util::{Env, copy_tree, fixture_context, lines_per_table};

const TABLES: [&str; 4] = [
    "skill_invocations",
    "cuj_runs",
    "progress_events",
    "provider_calls",
];

fn counts(m: &Machine) -> Vec<u64> {
    TABLES.iter().map(|t| m.count(t)).collect()
}

/// Lines of the generated sources in `dir` per table, in [`TABLES`] order.
fn expected(dir: &Path) -> Vec<u64> {
    lines_per_table(&[dir])
}

/// `obsq ingest --source dir` on machine `m`, in the background.
fn spawn_ingest(m: &Machine, dir: &Path) -> Child {
    m.cmd(&[
        "ingest",
        "--source",
        dir.to_str().unwrap(),
        "--memory-mb",
        "2",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

fn generate(dir: &Path, rows: u32, seed: usize) {
    Env::new().generate(dir, rows, seed, 4);
}

#[test]
fn an_s3_root_answers_every_golden_report_as_a_local_root_does_and_rebuilds_its_cache() {
    let s3 = S3::start(Kind::Garage);
    let m = Machine::new(&s3, "golden/store");
    let work = tempfile::tempdir().unwrap();
    let ctx = work.path().join("project/.claude/context");
    copy_tree(&fixture_context(), &ctx);
    m.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    let failures = golden::check(&|args| m.run_ok(args, 0));
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let local = Env::new();
    let lctx = local.path("project/.claude/context");
    copy_tree(&fixture_context(), &lctx);
    local.run_ok(&["ingest", "--source", lctx.to_str().unwrap()], 0);
    let want: Vec<u64> = TABLES.iter().map(|t| local.count(t, false)).collect();
    assert_eq!(counts(&m), want);

    // The catalog is a cache: deleted, it is rebuilt from the log in the bucket.
    for e in std::fs::read_dir(m.cache.path()).unwrap() {
        let p = e.unwrap().path();
        std::fs::remove_dir_all(&p)
            .or_else(|_| std::fs::remove_file(&p))
            .unwrap();
    }
    let out = m.run_ok(&["sql", "SELECT count(*) FROM cuj_runs", "--no-fresh"], 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rebuilt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(counts(&m), want);
    let failures = golden::check(&|args| m.run_ok(args, 0));
    assert!(
        failures.is_empty(),
        "after the rebuild: {}",
        failures.join("\n")
    );
    // Ingesting again adds nothing: the ledger in the bucket knows the sources.
    m.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    assert_eq!(counts(&m), want);

    // `record` appends to this machine's spool; its ingest commits it for every machine.
    m.run_ok(
        &[
            "record",
            "cuj",
            "--cuj-id",
            "CUJ-S3",
            "--success",
            "true",
            "--duration-ms",
            "7",
        ],
        0,
    );
    let other = Machine::new(&s3, "golden/store");
    assert_eq!(other.count("cuj_runs"), want[1]);
    m.run_ok(&["ingest"], 0);
    assert_eq!(other.count("cuj_runs"), want[1] + 1);
    // The other machine's ingest does not take this machine's spool, nor fail on its sources.
    other.run_ok(&["ingest"], 0);
    assert_eq!(m.count("cuj_runs"), want[1] + 1);
}

/// The objects `compact --orphan-grace 0s` on machine `m` deletes as no commit names them (its
/// `deleted_orphans`, read from the table it prints on stderr).
fn orphans_deleted_by_compact(m: &Machine) -> u64 {
    let out = m.run_ok(&["compact", "--grace", "0s", "--orphan-grace", "0s"], 0);
    let table = String::from_utf8(out.stderr).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches(|c| c == '│' || c == ' ')
            .split('┆')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut rows = table.lines().filter(|l| l.starts_with('│')).map(cells);
    let header = rows.next().expect("a header row");
    let values = rows.next().expect("a value row");
    let at = header
        .iter()
        .position(|h| h == "deleted_orphans")
        .expect("a deleted_orphans column");
    values[at].parse().expect("a count")
}

/// On an S3 root the sweep lists the bucket: what an ingest killed after its upload left (objects
/// no commit names) is deleted once past the orphan grace, and nothing a commit names is.
#[test]
fn an_s3_root_is_swept_of_what_a_killed_ingest_uploaded_and_of_nothing_else() {
    let s3 = S3::start(Kind::Garage);
    let m = Machine::new(&s3, "orphans");
    let src = tempfile::tempdir().unwrap();
    let dir = src.path().join("src");
    generate(&dir.join("a"), 2_000, 1);
    m.run_ok(&["source", "add", dir.to_str().unwrap()], 0);
    m.run_ok(&["ingest"], 0);
    let committed = counts(&m);
    generate(&dir.join("b"), 2_000, 2);
    let code = m
        .cmd(&["ingest"])
        .env("OBSQ_FAULT", "renamed:1:kill")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .code();
    assert_eq!(code, None, "the ingest was killed after its first upload");
    assert!(orphans_deleted_by_compact(&m) >= 1);
    assert_eq!(orphans_deleted_by_compact(&m), 0);
    assert_eq!(
        counts(&m),
        committed,
        "a committed row went with the orphans"
    );
    m.run_ok(&["ingest"], 0);
    assert_eq!(counts(&m), expected(&dir));
}

#[test]
fn an_s3_root_without_credentials_is_refused_with_the_variables_to_set() {
    let cache = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::util::bin())
        .args(["--root", "s3://some-bucket/x", "sql", "SELECT 1"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("OBSQ_HOME")
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AWS_ACCESS_KEY_ID") && err.contains("AWS_SECRET_ACCESS_KEY"),
        "{err}"
    );
}

#[test]
fn ingest_into_s3_killed_at_ten_points_then_rerun_is_exact() {
    let s3 = S3::start(Kind::Garage);
    let m = Machine::new(&s3, "crash");
    let src = tempfile::tempdir().unwrap();
    let faults = [
        "decoded:1",
        "staged:1",
        "renamed:1",
        "before-commit:1",
        "logged:1",
        "committed:1",
        "decoded:2",
        "staged:2",
        "renamed:2",
        "before-commit:2",
        "logged:2",
        "committed:2",
    ];
    let dir = src.path().join("src");
    std::fs::create_dir_all(&dir).unwrap();
    m.run_ok(&["source", "add", dir.to_str().unwrap()], 0);
    let mut kills = 0;
    for (i, fault) in faults.iter().enumerate() {
        generate(&dir.join(format!("slice{i}")), 2_000, i);
        let code = m
            // A budget of 1 MiB: each run's slice makes two commits or more, so that the
            // `:2` points (of the second commit) are reached. 2 MiB made two only while a
            // chunk's rows were counted at their builders' capacity, more than they hold.
            .cmd(&["ingest", "--memory-mb", "1"])
            .env("OBSQ_FAULT", format!("{fault}:kill"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .code();
        kills += usize::from(code.is_none());
    }
    assert!(kills >= 10, "only {kills} of the ingests were killed");
    m.run_ok(&["ingest"], 0);
    assert_eq!(counts(&m), expected(&dir));
    m.run_ok(&["ingest"], 0);
    assert_eq!(counts(&m), expected(&dir), "a second ingest added rows");
    // A machine with a fresh cache sees the same.
    assert_eq!(counts(&Machine::new(&s3, "crash")), expected(&dir));
}

#[test]
fn the_s3_server_stopped_mid_ingest_fails_clearly_and_commits_nothing_half() {
    let mut s3 = S3::start(Kind::Garage);
    let url = s3.url("outage");
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let dir = src.path().join("src");
    generate(&dir, 20_000, 7);
    let mut ingest: Child = s3
        .cmd(
            &url,
            cache.path(),
            &[
                "ingest",
                "--source",
                dir.to_str().unwrap(),
                "--memory-mb",
                "4",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    s3.stop();
    let out = ingest_output(&mut ingest);
    let (code, err) = out;
    if code != Some(0) {
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("object store") || err.contains("S3"), "{err}");
    }
    s3.resume();
    let m = Machine {
        s3: &s3,
        url: url.clone(),
        cache,
    };
    // Whatever was committed is whole: the counts are a prefix of the sources, never a torn one,
    // and the rerun makes them exact.
    m.run_ok(&["doctor"], 0);
    m.run_ok(&["ingest", "--source", dir.to_str().unwrap()], 0);
    assert_eq!(counts(&m), expected(&dir));
}

fn ingest_output(child: &mut Child) -> (Option<i32>, String) {
    use std::io::Read;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (child.wait().unwrap().code(), err)
}

#[test]
fn four_machines_ingest_into_one_s3_root_at_once_and_two_race_on_one_source() {
    let s3 = S3::start(Kind::Moto);
    let work = tempfile::tempdir().unwrap();
    let machines: Vec<Machine> = (0..4).map(|_| Machine::new(&s3, "shared")).collect();
    let mut dirs = Vec::new();
    for i in 0..4 {
        let d = work.path().join(format!("m{i}"));
        generate(&d, 3_000, 100 + i);
        dirs.push(d);
    }
    let children: Vec<Child> = machines
        .iter()
        .zip(&dirs)
        .map(|(m, d)| spawn_ingest(m, d))
        .collect();
    for mut c in children {
        let (code, err) = ingest_output(&mut c);
        assert_eq!(code, Some(0), "{err}");
    }
    let mut want = vec![0; 4];
    for d in &dirs {
        for (w, e) in want.iter_mut().zip(expected(d)) {
            *w += e;
        }
    }
    assert_eq!(counts(&machines[0]), want);
    assert_eq!(counts(&Machine::new(&s3, "shared")), want);

    // Two machines race on the same source (the same file, as on a shared disk): its rows land
    // exactly once, whichever commits first.
    let race = work.path().join("race");
    generate(&race, 5_000, 9);
    // Each racer's machine (its cache directory) lives until its ingest has ended: a temporary
    // one was removed as soon as the process was spawned, which failed the run when it had not
    // yet written its spool id (seen once under load).
    let racers: Vec<Machine> = (0..2).map(|_| Machine::new(&s3, "race")).collect();
    let children: Vec<Child> = racers.iter().map(|m| spawn_ingest(m, &race)).collect();
    for mut c in children {
        let (code, err) = ingest_output(&mut c);
        assert_eq!(code, Some(0), "{err}");
    }
    let _ = machines;
    assert_eq!(counts(&Machine::new(&s3, "race")), expected(&race));
}

#[test]
fn on_a_store_without_conditional_writes_two_writers_never_lose_a_commit_silently() {
    let s3 = S3::start(Kind::Garage);
    let work = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..2)
        .map(|i| {
            let d = work.path().join(format!("w{i}"));
            generate(&d, 2_000, 200 + i);
            d
        })
        .collect();
    let machines: Vec<Machine> = (0..2).map(|_| Machine::new(&s3, "single")).collect();
    let children: Vec<Child> = machines
        .iter()
        .zip(&dirs)
        .map(|(m, d)| {
            m.cmd(&["ingest", "--source", d.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut want = vec![0; 4];
    let mut refused = 0;
    for (mut c, d) in children.into_iter().zip(&dirs) {
        let (code, err) = ingest_output(&mut c);
        match code {
            Some(0) => {
                for (w, e) in want.iter_mut().zip(expected(d)) {
                    *w += e;
                }
            }
            _ => {
                assert!(err.contains("one writer at a time"), "{err}");
                refused += 1;
            }
        }
    }
    assert!(refused < 2, "both writers were refused");
    assert_eq!(counts(&Machine::new(&s3, "single")), want);
}
