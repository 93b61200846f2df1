//! No secret is ever stored: a corpus of secret shapes goes in through `record` and through
//! ingest of original-format files; every string column of every Parquet file is read back.

use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::{Env, files_with_suffix};

/// (where it goes, the secret value that must not survive).
fn secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        ("error", "Bearer abcdefghijklmnop123456"),
        (
            "error",
            "bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        ),
        (
            "error",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLXBhcnQ",
        ),
        ("error", "sk-proj-abc123def456ghi789"),
        ("error", "sk-ant-api03-AbCdEf123456-xyz"),
        ("error", "sk-1234567890abcdefghijklmnop"),
        ("error", "AKIAIOSFODNN7EXAMPLE"),
        ("error", "ASIAJEXAMPLEXEG2JICE"),
        ("error", "ghp_9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a"),
        ("error", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
        ("error", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"),
        ("error", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"),
        ("error", "xoxp-98765432-abcdefgh"),
        ("error", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        ("error", "sk_live_51H8abcdefghijklmnop"),
        ("error", "npm_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("error", "hf_abcdefghijklmnopqrstuvwxyzABCDEF"),
        ("error", "password=hunter2"),
        ("error", "passwd: swordfish99"),
        ("error", "api_key=key-live-7777"),
        ("error", "access_token=tok_8888"),
        ("error", "client_secret: 'cs-9999'"),
        ("error", "https://alice:s3cr3tpw@db.example.com/x"),
        ("error", "postgres://bob:pa55w0rd@10.0.0.1:5432/app"),
        ("error", "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
        ("params", r#"{"password":"p@ss-params-1"}"#),
        (
            "params",
            r#"{"nested":{"deeper":{"api_key":"ak-nested-2"}}}"#,
        ),
        ("params", r#"{"list":[{"token":"tk-in-list-3"}]}"#),
        ("params", r#"{"Authorization":"Token tk-auth-4"}"#),
        ("params", r#"{"x-api-key":"xak-5"}"#),
        ("params", r#"{"privateKey":"pk-6"}"#),
        ("params", r#"{"cookie":"session=ck-7"}"#),
        ("params", r#"{"credentials":{"user":"u","pw":"cred-8"}}"#),
        ("metadata", r#"{"db":{"password":"meta-pw-9"}}"#),
        ("metadata", r#"{"GITHUB_TOKEN":"gt-10"}"#),
        ("metadata", r#"{"note":"Bearer meta-bearer-11-abcdef"}"#),
        ("message", "connecting with secret=msg-secret-12"),
        ("extra", r#"{"apiKey":"extra-ak-13"}"#),
    ]
}

/// Not secrets: must survive unchanged.
fn look_alikes() -> Vec<(&'static str, &'static str)> {
    vec![
        ("params", r#"{"max_tokens":4096}"#),
        ("params", r#"{"token_count":1234}"#),
        ("params", r#"{"tokenizer":"cl100k_base"}"#),
        ("params", r#"{"secretName":"prod-db"}"#),
        ("params", r#"{"keyboard":"us"}"#),
        ("params", r#"{"token_budget":50000}"#),
        ("error", "passwordless sign-in failed"),
        ("error", "max_tokens=4096 exceeded"),
        ("error", "token_count: 200001 over limit"),
        ("error", "see https://docs.example.com/auth for details"),
        ("error", "task-runner exited"),
        ("message", "tokenizer warmed up"),
    ]
}

/// The secret part of a corpus entry (what must not be found in storage).
fn needle(s: &str) -> &str {
    for (start, end) in [
        ("Bearer ", ""),
        ("bearer ", ""),
        ("password=", ""),
        ("passwd: ", ""),
        ("api_key=", ""),
        ("access_token=", ""),
        ("client_secret: '", "'"),
        ("Basic ", ""),
    ] {
        if let Some(rest) = s.strip_prefix(start) {
            return rest.strip_suffix(end).unwrap_or(rest);
        }
    }
    if let Some(i) = s.find("://") {
        let rest = &s[i + 3..];
        return &rest[..rest.find('@').unwrap_or(rest.len())];
    }
    if s.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        fn leaf(v: &serde_json::Value) -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(m) => m.values().rev().find_map(leaf),
                serde_json::Value::Array(a) => a.iter().find_map(leaf),
                _ => None,
            }
        }
        let l = leaf(&v).unwrap();
        return Box::leak(l.into_boxed_str());
    }
    s
}

fn event(i: usize, field: &str, value: &str) -> serde_json::Value {
    let mut ev = serde_json::json!({
        "timestamp": format!("2026-11-28T0{}:00:00.000Z", i % 10),
        "skill": "s", "result": "failure", "agent": "a",
    });
    let json = || serde_json::from_str::<serde_json::Value>(value).unwrap();
    match field {
        "error" => ev["error"] = value.into(),
        "params" => ev["params"] = json(),
        "metadata" => ev["metadata"] = json(),
        "extra" => {
            for (k, v) in json().as_object().unwrap() {
                ev[k] = v.clone();
            }
        }
        _ => {}
    }
    ev
}

fn all_strings(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in files_with_suffix(&root.join("data"), ".parquet") {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            for col in batch.columns() {
                if col.data_type() == &DataType::Utf8 {
                    let s = col.as_string::<i32>();
                    out.extend(s.iter().flatten().map(str::to_string));
                }
            }
        }
    }
    out
}

#[test]
fn no_secret_reaches_parquet_and_look_alikes_survive() {
    let env = Env::new();
    let corpus = secrets();
    assert!(corpus.len() >= 30);
    // Through `record --stdin` (skill stream) ...
    let mut stdin_lines = String::new();
    for (i, (field, value)) in corpus.iter().chain(look_alikes().iter()).enumerate() {
        if *field != "message" {
            stdin_lines.push_str(&event(i, field, value).to_string());
            stdin_lines.push('\n');
        }
    }
    let out = env.run_with_stdin(&["record", "skill", "--stdin"], &stdin_lines);
    assert!(out.status.success());
    // ... through flags (progress messages, provider errors) ...
    for (field, value) in corpus.iter().chain(look_alikes().iter()) {
        match *field {
            "message" => env.run_ok(
                &["record", "progress", "--run-id", "r", "--message", value],
                0,
            ),
            "error" => env.run_ok(
                &[
                    "record",
                    "provider",
                    "--provider",
                    "p",
                    "--success",
                    "false",
                    "--error",
                    value,
                ],
                0,
            ),
            _ => continue,
        };
    }
    // ... and through ingest of files written by the original tools (errors stored raw).
    let dir = env.path("ctx/analytics");
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::fs::File::create(dir.join("provider-health.jsonl")).unwrap();
    for (field, value) in &corpus {
        if *field == "error" {
            writeln!(f, "{}", serde_json::json!({"timestamp": 1795849434128u64, "provider": "anthropic", "success": false, "latency_ms": 5, "error": value, "metadata": {}})).unwrap();
        }
    }
    // A URL as PHP's `json_encode` writes it, slashes escaped: `://` is not in the text as
    // written (serde_json, which writes the lines above, never escapes a slash).
    writeln!(
        f,
        r#"{{"timestamp":1795849434128,"provider":"anthropic","success":false,"latency_ms":5,"error":"x","metadata":{{"endpoint":"https:\/\/svc:Esc4pedPw@api.example\/v1"}}}}"#
    )
    .unwrap();
    drop(f);
    env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        0,
    );

    let stored = all_strings(&env.root());
    assert!(stored.len() > 100);
    assert!(
        !stored.iter().any(|s| s.contains("Esc4pedPw")),
        "escaped URL credentials stored"
    );
    assert!(
        stored
            .iter()
            .any(|s| s.contains("https://[REDACTED]@api.example/v1"))
    );
    for (field, value) in &corpus {
        let n = needle(value);
        assert!(n.len() >= 4, "needle {n:?}");
        let leak = stored.iter().find(|s| s.contains(n));
        assert!(leak.is_none(), "secret {n:?} ({field}) stored in {leak:?}");
    }
    for (field, value) in look_alikes() {
        let text = match field {
            "params" => value.to_string(),
            _ => value.to_string(),
        };
        assert!(
            stored.iter().any(|s| s.contains(&text)),
            "look-alike {text:?} ({field}) was altered"
        );
    }
    // The landing files hold no secret either.
    for file in files_with_suffix(&env.root().join("landing"), ".jsonl") {
        let text = std::fs::read_to_string(&file).unwrap();
        for (_, value) in &corpus {
            assert!(
                !text.contains(needle(value)),
                "{} in {}",
                needle(value),
                file.display()
            );
        }
    }
}
