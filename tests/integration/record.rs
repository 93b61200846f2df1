//! `obsq record`: validation messages, nothing written on error, the original tools' record
//! shape in the landing files, and fresh events visible before ingest.

use crate::util::{Env, files_with_suffix};

fn landing_lines(env: &Env) -> usize {
    files_with_suffix(&env.root().join("landing"), ".jsonl")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum()
}

#[test]
fn invalid_events_name_the_field_and_write_nothing() {
    let env = Env::new();
    let cases: [(&[&str], &str); 5] = [
        (&["record", "skill", "--agent", "a"], "skill"),
        (
            &["record", "cuj", "--cuj-id", "C", "--success", "maybe"],
            "success",
        ),
        (
            &[
                "record",
                "cuj",
                "--cuj-id",
                "C",
                "--success",
                "true",
                "--duration-ms",
                "abc",
            ],
            "duration_ms",
        ),
        (
            &[
                "record",
                "provider",
                "--provider",
                "p",
                "--success",
                "true",
                "--timestamp",
                "yesterday",
            ],
            "timestamp",
        ),
        (
            &["record", "skill", "--skill", "s", "--params", "{not json"],
            "--params",
        ),
    ];
    for (args, field) in cases {
        let out = env.run_ok(args, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{args:?}: {err}");
        assert!(err.starts_with("obsq: "), "{err}");
    }
    assert_eq!(landing_lines(&env), 0);
}

#[test]
fn recorded_events_use_the_original_shape_and_are_fresh() {
    let env = Env::new();
    env.run_ok(
        &[
            "record",
            "skill",
            "--skill",
            "scaffolder",
            "--agent",
            "dev",
            "--result",
            "success",
            "--duration-ms",
            "12.5",
            "--cache-hit",
            "--run-id",
            "run-1",
            "--params",
            r#"{"repo":"acme/web","password":"x1"}"#,
            "--timestamp",
            "2026-11-28T09:00:00Z",
        ],
        0,
    );
    let files = files_with_suffix(&env.root().join("landing"), ".jsonl");
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with("landing/skill_invocations/2026-11-28.jsonl"));
    let line = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(
        line,
        r#"{"timestamp":"2026-11-28T09:00:00.000Z","type":"skill_invocation","skill":"scaffolder","params":"{\"repo\":\"acme/web\",\"password\":\"[REDACTED]\"}","result":"success","duration_ms":12.5,"cache_hit":true,"agent":"dev","run_id":"run-1","cuj_id":null,"error":null,"metadata":{}}"#.to_string() + "\n"
    );
    assert_eq!(
        env.count("skill_invocations", true),
        1,
        "visible before ingest"
    );
    assert_eq!(env.count("skill_invocations", false), 0);
    env.run_ok(&["ingest"], 0);
    assert_eq!(
        env.count("skill_invocations", true),
        1,
        "exactly once after ingest"
    );
    assert_eq!(env.count("skill_invocations", false), 1);
}

#[test]
fn stdin_keeps_valid_lines_and_reports_bad_ones() {
    let env = Env::new();
    let input = concat!(
        r#"{"timestamp":"2026-11-28T00:00:00Z","provider":"OpenAI","success":true,"latency_ms":5}"#,
        "\n",
        "not json\n",
        r#"{"timestamp":1795849434128,"provider":"anthropic","success":false,"error":"boom"}"#,
        "\n",
    );
    let out = env.run_with_stdin(&["record", "provider", "--stdin"], input);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(
        env.csv_rows("SELECT provider FROM provider_calls ORDER BY ts"),
        ["openai", "anthropic"]
    );
}
