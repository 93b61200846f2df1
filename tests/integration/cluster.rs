//! `--cluster`: obsq's own scheduler and two executors on 127.0.0.1 answer every canned report,
//! `alerts check`, `metrics`, the REPL and a set of ad-hoc queries exactly as the in-process
//! engine does, on a local root and on an S3 root, fresh (un-ingested) events included.

use serde_json::Value;

use crate::golden::{self, CASES, NOW};
use crate::servers::{Cluster, Kind, Machine, S3};
use crate::util::{Env, copy_tree, fixture_context};

/// Ad-hoc queries with a total order, so that their text output is comparable.
const QUERIES: &[&str] = &[
    // A join across streams.
    "SELECT c.cuj_id, count(*) AS runs, count(s.skill) AS skills
       FROM cuj_runs c LEFT JOIN skill_invocations s ON s.cuj_id = c.cuj_id
      GROUP BY c.cuj_id ORDER BY c.cuj_id",
    // Window functions.
    "SELECT cuj_id, ts, duration_ms,
            row_number() OVER (PARTITION BY cuj_id ORDER BY ts, event_id) AS n,
            sum(duration_ms) OVER (PARTITION BY cuj_id ORDER BY ts, event_id) AS running
       FROM cuj_runs ORDER BY cuj_id, n",
    // obsq's aggregate and scalar functions.
    "SELECT provider, percentile_disc(latency_ms, 0.95) AS p95, count(*) AS calls
       FROM provider_calls GROUP BY provider ORDER BY provider",
    "SELECT error_pattern(error) AS pattern, count(*) AS n FROM cuj_runs
      WHERE error IS NOT NULL GROUP BY 1 ORDER BY n DESC, pattern",
    // Derived event ids and the date partition column.
    "SELECT date, count(DISTINCT event_id) AS ids, count(*) AS n FROM skill_invocations
      GROUP BY date ORDER BY date",
    // A system table, read from the client's catalog index.
    "SELECT stream, sum(rows) AS rows FROM system.files GROUP BY stream ORDER BY stream",
    // A report as a table function, joined.
    "SELECT r.cuj_id, r.total FROM cuj_all('all') r JOIN (SELECT DISTINCT cuj_id FROM cuj_runs) c
         ON c.cuj_id = r.cuj_id ORDER BY r.cuj_id",
];

/// Every golden case's JSON, every ad-hoc query's CSV, the alert evaluation's JSON and the
/// metrics (as JSON of name and labels → value), through `run` (arguments, expected exit code).
fn answers(run: &dyn Fn(&[&str], i32) -> std::process::Output) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, args, pointer) in CASES {
        let mut all = args.to_vec();
        all.extend(["--now", NOW, "--format", "json"]);
        let o = run(&all, 0);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let v = v.pointer(pointer).cloned().unwrap_or(Value::Null);
        out.push((name.to_string(), serde_json::to_string_pretty(&v).unwrap()));
    }
    for q in QUERIES {
        let o = run(&["sql", q, "--format", "csv"], 0);
        out.push((q.to_string(), String::from_utf8(o.stdout).unwrap()));
    }
    // The built-in rules: one CUJ of the fixtures fires (exit 1).
    let o = run(
        &[
            "alerts",
            "check",
            "--dry-run",
            "--now",
            NOW,
            "--format",
            "json",
        ],
        1,
    );
    out.push(("alerts".into(), String::from_utf8(o.stdout).unwrap()));
    let o = run(&["metrics", "--now", NOW, "--window", "24h"], 0);
    out.push((
        "metrics".into(),
        metrics_json(&String::from_utf8(o.stdout).unwrap()),
    ));
    out
}

/// Prometheus text as a JSON object of `name{labels}` → value, so that float sums compare to
/// 1e-12 (their last bit depends on the order the files are read in).
fn metrics_json(text: &str) -> String {
    let samples: serde_json::Map<String, Value> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("`series value`");
            let v: f64 = value.parse().expect("a number");
            (series.to_string(), serde_json::json!(v))
        })
        .collect();
    assert!(!samples.is_empty(), "no samples in:\n{text}");
    Value::Object(samples).to_string()
}

fn assert_same(local: &[(String, String)], cluster: &[(String, String)], what: &str) {
    for ((name, want), (_, got)) in local.iter().zip(cluster) {
        if let (Ok(w), Ok(g)) = (
            serde_json::from_str::<Value>(want),
            serde_json::from_str::<Value>(got),
        ) {
            if let Err(at) = golden::same(&w, &g, name) {
                panic!("{what}: {at}\nin-process:\n{want}\ncluster:\n{got}");
            }
            continue;
        }
        assert_eq!(want, got, "{what}: {name}");
    }
}

#[test]
fn every_report_and_query_on_the_cluster_answers_as_in_process() {
    let s3 = S3::start(Kind::Garage);
    let cluster = Cluster::start(&s3.vars());

    // A local root (the executors read its files by path, as on one machine).
    let env = Env::new();
    let ctx = env.path("project/.claude/context");
    copy_tree(&fixture_context(), &ctx);
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    // Fresh events, not ingested: both engines see them.
    env.run_ok(
        &[
            "record",
            "cuj",
            "--cuj-id",
            "CUJ-001",
            "--success",
            "false",
            "--duration-ms",
            "9",
            "--error",
            "TimeoutError: fresh at step 3",
        ],
        0,
    );
    let local = answers(&|args, code| env.run_ok(args, code));
    let on_cluster = answers(&|args, code| {
        let mut all = vec!["--cluster", cluster.url.as_str()];
        all.extend_from_slice(args);
        env.run_ok(&all, code)
    });
    assert_same(&local, &on_cluster, "local root");
    // The REPL: the same statements print the same output.
    let script = "SELECT count(*) AS n FROM cuj_runs;\n\\d cuj_runs\n\
                  SELECT cuj_id, count(*) AS runs FROM cuj_runs GROUP BY cuj_id ORDER BY runs DESC, cuj_id;\n\
                  SELECT total, successful FROM cuj_rate('all', 'CUJ-005')";
    let repl = |cluster_args: &[&str]| {
        let mut args = cluster_args.to_vec();
        args.push("repl");
        let o = env.run_with_stdin(&args, script);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let in_process = repl(&[]);
    assert!(in_process.contains("total,successful\n"), "{in_process}");
    assert_eq!(
        in_process,
        repl(&["--cluster", cluster.url.as_str()]),
        "the REPL"
    );

    // An S3 root: the executors open the bucket with the same variables.
    let m = Machine::new(&s3, "cluster/store");
    let ctx2 = env.path("second/.claude/context");
    copy_tree(&fixture_context(), &ctx2);
    m.run_ok(&["ingest", "--source", ctx2.to_str().unwrap()], 0);
    let in_process = answers(&|args, code| m.run_ok(args, code));
    let on_cluster = answers(&|args, code| {
        let mut all = vec!["--cluster", cluster.url.as_str()];
        all.extend_from_slice(args);
        m.run_ok(&all, code)
    });
    assert_same(&in_process, &on_cluster, "S3 root");
    // And they are the golden answers (the in-process S3 answers are checked against the golden
    // files in s3.rs).
}

#[test]
fn a_cluster_url_that_is_not_one_is_refused() {
    let env = Env::new();
    let out = env.run_ok(&["--cluster", "http://127.0.0.1:1", "cuj", "all"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("df://"));
}

#[test]
fn a_cluster_that_does_not_answer_is_named_with_what_to_start() {
    let env = Env::new();
    let port = crate::servers::free_port(false);
    let url = format!("df://127.0.0.1:{port}");
    env.run_ok(
        &["record", "cuj", "--cuj-id", "CUJ-1", "--success", "true"],
        0,
    );
    let out = env.run_ok(&["--cluster", &url, "cuj", "all"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&url) && err.contains("obsq cluster scheduler"),
        "{err}"
    );
}
