//! The REPL, driven through standard input and through a pseudo-terminal.

use std::process::Command;

use crate::util::{Env, bin, copy_tree, fixture_context};

fn fixture_env() -> Env {
    let env = Env::new();
    let ctx = env.path("project/.claude/context");
    copy_tree(&fixture_context(), &ctx);
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    env
}

#[test]
fn piped_statements_run_and_a_refused_write_fails_the_run() {
    let env = fixture_env();
    let target = env.path("stolen.csv");
    let script = format!(
        "SELECT count(*) AS n FROM cuj_runs;\n\
         \\d\n\
         SELECT cuj_id,\n  count(*) AS runs\nFROM cuj_runs\nGROUP BY cuj_id ORDER BY runs DESC, cuj_id LIMIT 1;\n\
         COPY (SELECT * FROM cuj_runs) TO '{}';\n\
         INSERT INTO cuj_runs SELECT * FROM cuj_runs;\n\
         CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/tmp';\n\
         \\d cuj_runs\n\
         SELECT total, successful FROM cuj_rate('all', 'CUJ-005');\n\
         SELECT count(*) AS patterns FROM top_failure_patterns('all', 3)",
        target.display()
    );
    let out = env.run_with_stdin(&["repl"], &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("n\n95\n"), "{stdout}");
    assert!(
        stdout.contains("system,files,"),
        "\\d lists tables: {stdout}"
    );
    assert!(
        stdout.contains("cuj_id,runs\nCUJ-005,42\n"),
        "multi-line statement: {stdout}"
    );
    assert_eq!(
        stderr.matches("refused: obsq's SQL is read-only").count(),
        3,
        "{stderr}"
    );
    assert!(!target.exists(), "COPY must not write");
    assert!(
        stdout.contains("column,type,nullable\nts,"),
        "\\d cuj_runs: {stdout}"
    );
    assert!(
        stdout.contains("total,successful\n42,20\n"),
        "report table function: {stdout}"
    );
    assert!(stdout.contains("patterns\n3\n"), "{stdout}");
    assert_eq!(env.count("cuj_runs", true), 95, "nothing was written");
}

#[test]
fn interactive_shell_completes_columns_and_keeps_history() {
    let env = fixture_env();
    let steps = r#"[
        {"expect": "obsq> "},
        {"send": "SELECT cache_h\t"},
        {"expect": "cache_hit"},
        {"send": " AS hit, count(*) AS n\r"},
        {"expect": "> "},
        {"send": "FROM skill_invocations GROUP BY 1 ORDER BY 1;\r"},
        {"expect": "false"},
        {"expect": "obsq> "},
        {"send": "\\timing\r"},
        {"expect": "timing on"},
        {"send": "DROP TABLE cuj_runs;\r"},
        {"expect": "read-only"},
        {"send": "SELECT 1 AS one;\r"},
        {"expect": "1 row in"},
        {"send": "SELECT count(*) FROM range(0, 100000000000) AS a, range(0, 1000) AS b;\r"},
        {"send": "\u0003"},
        {"expect": "cancelled (Ctrl-C)"},
        {"expect": "obsq> "},
        {"send": "SELECT 2 AS two;\r"},
        {"expect": "two"},
        {"send": "\u0004"}
    ]"#;
    let script = env.path("steps.json");
    std::fs::write(&script, steps).unwrap();
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pty/drive.py");
    let out = Command::new("python3")
        .arg(driver)
        .arg(&script)
        .arg("--")
        .arg(bin())
        .arg("--root")
        .arg(env.root())
        .arg("repl")
        .env_remove("OBSQ_HOME")
        .output()
        .expect("python3 runs the pty driver");
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "transcript:\n{transcript}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        transcript.contains("SELECT cache_hit"),
        "completed in place: {transcript}"
    );
    let history = std::fs::read_to_string(env.root().join("repl_history")).unwrap();
    assert!(history.contains("SELECT 1 AS one;"), "{history}");
}
