//! Monitoring: alert and SLO rules stepped through a scripted scenario (`--now` moved forward),
//! notifications to a webhook served here and to a real Alertmanager, `compare` against
//! statsmodels, `metrics` against promtool and `obsq sql`, and rules files with mistakes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::Env;

/// 2026-11-01T00:00:00Z in epoch ms: minute 0 of the scenario.
const T0: i64 = 1_793_491_200_000;

fn iso(ms: i64) -> String {
    obsq::model::timefmt::iso_ms(ms)
}

fn at(minute: i64) -> String {
    iso(T0 + minute * 60_000)
}

/// A webhook receiver on 127.0.0.1: every request body, in order.
struct Hook {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    fn start() -> Hook {
        Hook::on(TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
    }

    fn on(listener: TcpListener) -> Hook {
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(body) = read_request(stream) {
                    seen.lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).expect("JSON body"));
                }
            }
        });
        Hook { port, bodies }
    }

    fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.bodies.lock().unwrap())
    }
}

/// Reads one HTTP request, answers 200 and closes; returns the body.
fn read_request(stream: TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let mut s = stream;
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    String::from_utf8(body).ok()
}

/// A plain HTTP GET on loopback (status, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

fn record_cuj(env: &Env, lines: &[String]) {
    let input = lines.join("\n") + "\n";
    env.run_with_stdin(&["record", "cuj", "--stdin"], &input);
    env.run_ok(&["ingest"], 0);
}

fn cuj_line(cuj: &str, ts: &str, ok: bool, error: &str) -> String {
    let error = if ok {
        "null".to_string()
    } else {
        format!("\"{error}\"")
    };
    format!(
        r#"{{"timestamp":"{ts}","cuj_id":"{cuj}","success":{ok},"duration_ms":1200,"error":{error}}}"#
    )
}

/// The scenario's events: CUJ-A once a minute for five hours — 95 % success in hours 0–1
/// (every 20th run fails), 60 % in hour 2 (minutes ≡ 0, 1 mod 5 fail), all successful after —
/// and CUJ-LOW, five failed runs in hour 2.
fn scenario_events() -> Vec<String> {
    let mut lines = Vec::new();
    for m in 0..300 {
        let ok = match m {
            0..=119 => m % 20 != 0,
            120..=179 => !matches!(m % 5, 0 | 1),
            _ => true,
        };
        lines.push(cuj_line("CUJ-A", &at(m), ok, "Timeout after 30000ms"));
    }
    for m in 140..145 {
        lines.push(cuj_line("CUJ-LOW", &at(m), false, "boom"));
    }
    lines
}

fn check(env: &Env, rules: &Path, minute: i64, code: i32) -> Vec<Value> {
    let out = env.run_ok(
        &[
            "alerts",
            "check",
            "--rules",
            rules.to_str().unwrap(),
            "--now",
            &at(minute),
            "--format",
            "json",
        ],
        code,
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("JSON rows")
        .as_array()
        .unwrap()
        .clone()
}

fn state_of(rows: &[Value], rule: &str, group: &str) -> String {
    rows.iter()
        .find(|r| r["rule"] == rule && r["group"] == group)
        .unwrap_or_else(|| panic!("no row for {rule} {group}: {rows:?}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn alerts_move_through_their_states_and_notify_each_transition_once() {
    let env = Env::new();
    record_cuj(&env, &scenario_events());
    let hook = Hook::start();
    let rules = env.path("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"
[[alert]]
name = "cuj-success"
stream = "cuj"
metric = "success_rate"
window = "1h"
by = "cuj_id"
below = 0.8
min_events = 20
for = "10m"
severity = "page"

[[slo]]
name = "cuj-availability"
stream = "cuj"
objective = 0.99
period = "30d"
by = "cuj_id"
windows = [{{ long = "1h", short = "5m", burn = 14.4, severity = "page" }}]

[[notify]]
kind = "webhook"
url = "http://127.0.0.1:{}/hook"
"#,
            hook.port
        ),
    )
    .unwrap();
    // (minute, exit code, alert state of CUJ-A, SLO state of CUJ-A)
    let steps = [
        (110, 0, "ok", "ok"),
        (150, 1, "pending", "firing"),
        (155, 1, "pending", "firing"),
        (165, 1, "firing", "firing"),
        (175, 1, "firing", "firing"),
        (185, 1, "firing", "resolved"),
        (250, 0, "resolved", "ok"),
        (260, 0, "ok", "ok"),
    ];
    let mut notified = Vec::new();
    for (minute, code, alert, slo) in steps {
        let rows = check(&env, &rules, minute, code);
        assert_eq!(
            state_of(&rows, "cuj-success", "CUJ-A"),
            alert,
            "minute {minute}"
        );
        assert_eq!(
            state_of(&rows, "cuj-availability", "CUJ-A"),
            slo,
            "minute {minute}"
        );
        if (150..=175).contains(&minute) {
            // Five runs in the window: too few to judge, never firing.
            assert_eq!(state_of(&rows, "cuj-success", "CUJ-LOW"), "insufficient");
        }
        if minute == 150 {
            let row = rows
                .iter()
                .find(|r| r["rule"] == "cuj-availability" && r["group"] == "CUJ-A")
                .unwrap();
            let burn = &row["burn_rates"][0];
            assert!(burn["long_burn_rate"].as_f64().unwrap() > 14.4, "{row}");
            assert!(burn["short_burn_rate"].as_f64().unwrap() > 14.4, "{row}");
            assert_eq!(burn["triggered"], true);
            // 14/61 of the hour failed at minute 150 → 47/61 succeeded.
            let v = rows
                .iter()
                .find(|r| r["rule"] == "cuj-success" && r["group"] == "CUJ-A")
                .unwrap()["value"]
                .as_f64()
                .unwrap();
            assert!((v - 47.0 / 61.0).abs() < 1e-12, "{v}");
        }
        for b in hook.take() {
            notified.push((minute, b));
        }
    }
    let got: Vec<(i64, &str, &str)> = notified
        .iter()
        .map(|(m, b)| {
            (
                *m,
                b["rule"].as_str().unwrap(),
                b["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (150, "cuj-availability", "firing"),
            (165, "cuj-success", "firing"),
            (185, "cuj-availability", "resolved"),
            (250, "cuj-success", "resolved"),
        ]
    );
    let firing = &notified[1].1;
    assert_eq!(firing["labels"]["alertname"], "cuj-success");
    assert_eq!(firing["labels"]["severity"], "page");
    assert_eq!(firing["labels"]["cuj_id"], "CUJ-A");
    assert_eq!(firing["startsAt"], at(150));
    let text = firing["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "[FIRING] cuj-success cuj_id=CUJ-A: success_rate 0.6885 below 0.8 over 1h (61 events)"
        ),
        "{text}"
    );
    let resolved = &notified[3].1;
    assert_eq!(resolved["endsAt"], at(250));
    assert!(
        resolved["text"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED] cuj-success")
    );

    // The transitions are kept: `alerts history` and `system.alerts` list them.
    let out = env.run_ok(
        &[
            "alerts",
            "history",
            "--rule",
            "cuj-success",
            "--format",
            "csv",
        ],
        0,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let moves: Vec<String> = text
        .lines()
        .skip(1)
        .filter(|l| l.contains(",CUJ-A,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{}>{}", f[5], f[6])
        })
        .collect();
    assert_eq!(
        moves,
        [
            "ok>pending",
            "pending>firing",
            "firing>resolved",
            "resolved>ok"
        ]
    );
    assert_eq!(
        env.scalar(
            "SELECT count(*) FROM system.alerts WHERE rule = 'cuj-availability'",
            true
        ),
        "3"
    );
    // A check that goes back in time is refused (it would rewrite the transitions).
    let out = env.run_ok(
        &[
            "alerts",
            "check",
            "--rules",
            rules.to_str().unwrap(),
            "--now",
            &at(200),
        ],
        2,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dry-run"));
    // A dry run looks at the past against the kept states (CUJ-A was `ok`: its breach at
    // minute 200 is new, so pending) and neither sends nor keeps anything.
    let out = env.run_ok(
        &[
            "alerts",
            "check",
            "--rules",
            rules.to_str().unwrap(),
            "--now",
            &at(200),
            "--dry-run",
            "--format",
            "json",
        ],
        0,
    );
    let rows: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(state_of(&rows, "cuj-success", "CUJ-A"), "pending");
    assert!(hook.take().is_empty(), "a dry run sends nothing");
    check(&env, &rules, 261, 0);
}

#[test]
fn repeat_re_notifies_and_a_failed_notification_waits_for_the_next_check() {
    let env = Env::new();
    record_cuj(&env, &scenario_events());
    // A port nobody listens on yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rules = env.path("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"
[[alert]]
name = "cuj-success"
stream = "cuj"
metric = "success_rate"
window = "1h"
by = "cuj_id"
below = 0.8
min_events = 20
repeat = "15m"

[[notify]]
kind = "webhook"
url = "http://127.0.0.1:{port}/hook"
attempts = 1
timeout = "2s"
"#
        ),
    )
    .unwrap();
    let out = env.run_ok(
        &[
            "alerts",
            "check",
            "--rules",
            rules.to_str().unwrap(),
            "--now",
            &at(150),
            "--format",
            "json",
        ],
        1,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failed after 1 attempt(s)") && err.contains("kept for the next check"),
        "{err}"
    );
    // The receiver comes up; the next check delivers the kept notification first.
    let hook = Hook::on(TcpListener::bind(("127.0.0.1", port)).expect("rebind the port"));
    check(&env, &rules, 155, 1);
    let bodies = hook.take();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["startsAt"], at(150));
    assert_eq!(bodies[0]["repeat"], false);
    check(&env, &rules, 160, 1);
    assert!(hook.take().is_empty(), "no repeat before 15m");
    check(&env, &rules, 166, 1);
    let bodies = hook.take();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["repeat"], true);
    assert!(
        bodies[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING (repeat)]")
    );
}

/// A real Alertmanager on a free loopback port, stopped by PID when dropped.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start() -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("alertmanager.yml");
        std::fs::write(
            &cfg,
            "route:\n  receiver: none\nreceivers:\n  - name: none\n",
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = ["prometheus-alertmanager", "alertmanager"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").output().is_ok())
            .expect(
                "Alertmanager is installed by tests/setup.sh (Debian: prometheus-alertmanager)",
            );
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        let am = Alertmanager {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while http_get(port, "/-/ready").map(|(s, _)| s) != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Alertmanager did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        am
    }

    fn alerts(&self) -> Vec<Value> {
        let (status, body) = http_get(self.port, "/api/v2/alerts").expect("Alertmanager answers");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn alertmanager_receives_the_firing_alert_and_sees_it_end() {
    let am = Alertmanager::start();
    let env = Env::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Ten failed runs 100 s ago; the first check looks at the minute after them.
    let lines: Vec<String> = (0..10)
        .map(|i| cuj_line("CUJ-AM", &iso(now - 100_000 + i * 1000), false, "down"))
        .collect();
    record_cuj(&env, &lines);
    let rules = env.path("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "[[alert]]\nname = \"cuj-down\"\nstream = \"cuj\"\nmetric = \"success_rate\"\nwindow = \"1m\"\nby = \"cuj_id\"\nbelow = 0.5\nmin_events = 5\nseverity = \"page\"\n\n[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:{}\"\n",
            am.port
        ),
    )
    .unwrap();
    let r = rules.to_str().unwrap();
    env.run_ok(
        &["alerts", "check", "--rules", r, "--now", &iso(now - 80_000)],
        1,
    );
    let alerts = am.alerts();
    let a = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "cuj-down")
        .unwrap_or_else(|| panic!("the alert reached Alertmanager: {alerts:?}"));
    assert_eq!(a["labels"]["cuj_id"], "CUJ-AM");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["status"]["state"], "active");
    // No runs in the last minute now: resolved, and Alertmanager is told it ended.
    env.run_ok(&["alerts", "check", "--rules", r, "--now", &iso(now)], 0);
    let started = Instant::now();
    loop {
        let still: Vec<Value> = am
            .alerts()
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == "cuj-down" && a["status"]["state"] == "active")
            .collect();
        if still.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still active: {still:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// statsmodels' Wilson interval and pooled two-proportion z-test on the same counts.
fn statsmodels(k1: u64, n1: u64, k2: u64, n2: u64) -> Value {
    let script = format!(
        "import json\nfrom statsmodels.stats.proportion import proportion_confint, proportions_ztest\n\
         lo, hi = proportion_confint({k2}, {n2}, alpha=0.05, method='wilson')\n\
         plo, phi = proportion_confint({k1}, {n1}, alpha=0.05, method='wilson')\n\
         z, p = proportions_ztest([{k2}, {k1}], [{n2}, {n1}])\n\
         print(json.dumps(dict(lo=lo, hi=hi, plo=plo, phi=phi, p=p)))\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "statsmodels failed (tests/setup.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn compare_flags_a_planted_regression_and_agrees_with_statsmodels() {
    let env = Env::new();
    let now = T0 + 14 * 86_400_000;
    let day = 86_400_000;
    let mut lines = Vec::new();
    // CUJ-REG: 200 runs a week; 95 % success last week, 70 % this week, and a new error.
    for i in 0..200 {
        let prev = now - 2 * 7 * day + 1000 + i * 3_000_000;
        let cur = now - 7 * day + 1000 + i * 3_000_000;
        lines.push(cuj_line(
            "CUJ-REG",
            &iso(prev),
            i % 20 != 0,
            "Timeout after 30000ms",
        ));
        lines.push(cuj_line(
            "CUJ-REG",
            &iso(cur),
            i % 10 >= 3,
            if i % 10 == 0 {
                "Connection refused by db-7"
            } else {
                "Timeout after 30000ms"
            },
        ));
    }
    // CUJ-SMALL: 6 of 8 last week, 4 of 7 this week: noise.
    for i in 0..8 {
        lines.push(cuj_line(
            "CUJ-SMALL",
            &iso(now - 10 * day + i * 60_000),
            i >= 2,
            "flaky",
        ));
    }
    for i in 0..7 {
        lines.push(cuj_line(
            "CUJ-SMALL",
            &iso(now - 3 * day + i * 60_000),
            i >= 3,
            "flaky",
        ));
    }
    record_cuj(&env, &lines);
    let out = env.run_ok(
        &[
            "compare",
            "--window",
            "7d",
            "--now",
            &iso(now),
            "--format",
            "json",
        ],
        0,
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = report["groups"].as_array().unwrap();
    let g = |name: &str| groups.iter().find(|g| g["group"] == name).unwrap().clone();
    let reg = g("CUJ-REG");
    assert_eq!(
        (reg["prev_events"].as_u64(), reg["events"].as_u64()),
        (Some(200), Some(200))
    );
    assert_eq!(
        (reg["prev_successes"].as_u64(), reg["successes"].as_u64()),
        (Some(190), Some(140))
    );
    assert_eq!(reg["significant"], true, "{reg}");
    let small = g("CUJ-SMALL");
    assert_eq!(small["significant"], false, "{small}");
    for (row, (k1, n1, k2, n2)) in [(&reg, (190, 200, 140, 200)), (&small, (6, 8, 4, 7))] {
        let sm = statsmodels(k1, n1, k2, n2);
        for (ours, theirs) in [
            ("success_rate_low", "lo"),
            ("success_rate_high", "hi"),
            ("prev_success_rate_low", "plo"),
            ("prev_success_rate_high", "phi"),
            ("p_value", "p"),
        ] {
            let (a, b) = (row[ours].as_f64().unwrap(), sm[theirs].as_f64().unwrap());
            assert!(
                (a - b).abs() < 1e-9,
                "{ours}: obsq {a} statsmodels {b} ({row})"
            );
        }
    }
    assert!(small["p_value"].as_f64().unwrap() > 0.05);
    let new: Vec<&str> = report["new_error_patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["example"].as_str().unwrap())
        .collect();
    assert_eq!(new, ["Connection refused by db-7"]);
    // The same as a table function (its clock is the real one: a window long enough to reach
    // the data), and in the dashboard's JSON.
    let rows = env.csv_rows("SELECT \"group\", events FROM compare('365d', 'cuj') ORDER BY 1");
    assert_eq!(rows, ["CUJ-REG,400", "CUJ-SMALL,15"]);
    let out = env.run_ok(&["dashboard", "--format", "json", "--now", &iso(now)], 0);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let wc = d["what_changed"]["cujs"]["groups"].as_array().unwrap();
    assert!(
        wc.iter()
            .any(|g| g["group"] == "CUJ-REG" && g["significant"] == true)
    );
    let out = env.run_ok(&["dashboard", "--now", &iso(now)], 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WHAT CHANGED") && text.contains("CUJ CUJ-REG"),
        "{text}"
    );
    let out = env.run_ok(&["dashboard", "--format", "html", "--now", &iso(now)], 0);
    let html = String::from_utf8(out.stdout).unwrap();
    let section = &html[html
        .find("id=\"what-changed\"")
        .expect("a what-changed panel")..];
    assert!(
        section.contains("<tr class=\"significant\"><td>CUJ CUJ-REG</td>"),
        "{section}"
    );
    assert!(
        section.contains("<h2>New error patterns</h2><ul><li>CUJ: <code>Connection refused"),
        "{section}"
    );
    // A stream or group that does not exist is refused.
    let out = env.run_ok(&["compare", "--stream", "cuj", "--by", "model"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a group of stream cuj"));
}

/// `name{labels} value` lines of a family, as (labels, value).
fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = series.split_once('{').map_or((series, ""), |(n, l)| (n, l));
            (n == name).then(|| {
                (
                    labels.trim_end_matches('}').to_string(),
                    value.parse().unwrap(),
                )
            })
        })
        .collect()
}

#[test]
fn metrics_pass_promtool_and_count_what_sql_counts() {
    let env = Env::new();
    let ctx = env.path("ctx");
    crate::util::copy_tree(&crate::util::fixture_context(), &ctx);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(ctx.join("analytics/cuj-metrics.jsonl"))
        .unwrap();
    f.write_all(b"not json\n{\"cuj_id\": 7}\n").unwrap();
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 3);
    let file = env.path("obsq.prom");
    env.run_ok(&["metrics", "--out", file.to_str().unwrap()], 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool is installed by tests/setup.sh (Debian: prometheus)");
    assert!(
        promtool.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    let sum = |name: &str, filter: &str| -> f64 {
        samples(&text, name)
            .iter()
            .filter(|(l, _)| l.contains(filter))
            .map(|(_, v)| v)
            .sum()
    };
    let sql = |q: &str| -> f64 { env.scalar(q, true).parse().unwrap() };
    assert_eq!(
        sum("obsq_cuj_runs_total", ""),
        sql("SELECT count(*) FROM cuj_runs")
    );
    assert_eq!(
        sum("obsq_cuj_runs_total", "outcome=\"failure\""),
        sql("SELECT count(*) FROM cuj_runs WHERE NOT success")
    );
    assert_eq!(
        sum("obsq_skill_invocations_total", ""),
        sql("SELECT count(*) FROM skill_invocations")
    );
    assert_eq!(
        sum("obsq_skill_cache_hits_total", ""),
        sql("SELECT count(*) FROM skill_invocations WHERE cache_hit")
    );
    assert_eq!(
        sum("obsq_provider_calls_total", ""),
        sql("SELECT count(*) FROM provider_calls")
    );
    assert_eq!(
        sum("obsq_progress_events_total", ""),
        sql("SELECT count(*) FROM progress_events")
    );
    assert_eq!(
        sum("gen_ai_workflow_duration_seconds_count", ""),
        sql("SELECT count(duration_ms) FROM cuj_runs")
    );
    assert_eq!(
        sum("gen_ai_client_operation_duration_seconds_count", ""),
        sql("SELECT count(latency_ms) FROM provider_calls")
    );
    assert_eq!(
        sum(
            "gen_ai_client_operation_duration_seconds_count",
            "error_type=\"_OTHER\""
        ),
        sql("SELECT count(latency_ms) FROM provider_calls WHERE NOT success")
    );
    let sum_s = sum("gen_ai_client_operation_duration_seconds_sum", "");
    let sql_s = sql("SELECT sum(latency_ms) / 1000.0 FROM provider_calls");
    assert!(
        (sum_s - sql_s).abs() < 1e-6 * sql_s.max(1.0),
        "{sum_s} vs {sql_s}"
    );
    assert_eq!(sum("obsq_quarantined_lines", "stream=\"cuj_runs\""), 2.0);
    assert_eq!(
        sum("obsq_quarantined_lines", ""),
        sql("SELECT sum(lines) FROM system.quarantine_sources")
    );
    assert!(
        !text.contains("gen_ai_provider_name=\"google\""),
        "google is gcp.gen_ai in OTel"
    );
    // The windowed gauges count what SQL counts in the same window.
    let now = "2026-11-28T09:51:50.000Z";
    let f = file.to_str().unwrap();
    env.run_ok(&["metrics", "--out", f, "--now", now, "--window", "24h"], 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let window = samples(&text, "obsq_window_events");
    let cuj = window
        .iter()
        .find(|(l, _)| l.contains("cuj_runs"))
        .unwrap()
        .1;
    assert_eq!(
        cuj,
        sql(
            "SELECT count(*) FROM cuj_runs WHERE ts BETWEEN TIMESTAMP '2026-11-27T09:51:50Z' AND TIMESTAMP '2026-11-28T09:51:50Z'"
        )
    );
    assert!(cuj > 0.0);
}

#[test]
fn rules_files_with_mistakes_are_refused_with_the_line_rule_and_key() {
    let env = Env::new();
    let base = "[[alert]]\nname = \"cuj-success\"\nstream = \"cuj\"\nmetric = \"success_rate\"\nwindow = \"1h\"\nbelow = 0.8\n";
    for (text, expect) in [
        (
            base.replace("window", "windw"),
            "rules.toml:5: alert `cuj-success`: unknown key `windw` (did you mean `window`?)",
        ),
        (
            base.replace("success_rate", "latency"),
            "rules.toml:4: alert `cuj-success`: `metric` `latency` is not a metric",
        ),
        (
            base.replace("below = 0.8\n", ""),
            "rules.toml:1: alert `cuj-success`: no threshold: add `below = …` or `above = …`",
        ),
        (
            format!("{base}\n[[notify]]\nkind = \"slack\"\nurl = \"http://x\"\n"),
            "rules.toml:9: notify: `kind` `slack` is not a notifier",
        ),
    ] {
        let rules = env.path("rules.toml");
        std::fs::write(&rules, &text).unwrap();
        let out = env.run_ok(&["alerts", "check", "--rules", rules.to_str().unwrap()], 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "expected `{expect}` in: {err}");
    }
    // The built-in rules when there is no file: the original tools' thresholds.
    let out = env.run_ok(&["alerts", "list", "--format", "csv"], 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("success_rate below 0.8 over 1d"), "{text}");
    assert!(text.contains("p95_ms above 5000 over 1h"), "{text}");
    assert!(text.contains("success_rate below 0.7 over 1h"), "{text}");
}

#[test]
fn stalled_runs_and_quarantined_lines_have_rules_too() {
    let env = Env::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ev = |run: &str, ago_min: i64, status: &str, pct: u32| {
        format!(
            r#"{{"timestamp":{},"run_id":"{run}","step":null,"status":"{status}","percentage":{pct},"message":"m"}}"#,
            now - ago_min * 60_000
        )
    };
    // run-1 finished, run-2 silent at 40 % for 30 minutes, run-3 busy a minute ago.
    let lines = [
        ev("run-1", 50, "running", 10),
        ev("run-1", 45, "completed", 100),
        ev("run-2", 40, "running", 10),
        ev("run-2", 30, "running", 40),
        ev("run-3", 20, "running", 10),
        ev("run-3", 1, "running", 60),
    ];
    env.run_with_stdin(
        &["record", "progress", "--stdin"],
        &(lines.join("\n") + "\n"),
    );
    // Two bad lines of another source go to quarantine in this ingest.
    let ctx = env.path("ctx/analytics");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("cuj-metrics.jsonl"),
        format!(
            "{}\nnot json\n{{\"cuj_id\": 7}}\n",
            cuj_line("CUJ-1", &iso(now), true, "")
        ),
    )
    .unwrap();
    env.run_ok(
        &["ingest", "--source", env.path("ctx").to_str().unwrap()],
        3,
    );
    let rules = env.path("rules.toml");
    std::fs::write(
        &rules,
        "[[alert]]\nname = \"stalled\"\nstream = \"progress\"\nmetric = \"stalled_runs\"\nwindow = \"2h\"\nabove = 0\nstall = \"10m\"\n\n\
         [[alert]]\nname = \"bad-input\"\nstream = \"quarantine\"\nmetric = \"quarantined_lines\"\nwindow = \"1h\"\nabove = 1\n",
    )
    .unwrap();
    let out = env.run_ok(
        &[
            "alerts",
            "check",
            "--rules",
            rules.to_str().unwrap(),
            "--format",
            "json",
        ],
        1,
    );
    let rows: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let row = |name: &str| rows.iter().find(|r| r["rule"] == name).unwrap().clone();
    let stalled = row("stalled");
    assert_eq!(
        (
            stalled["state"].as_str(),
            stalled["value"].as_f64(),
            stalled["events"].as_u64()
        ),
        (Some("firing"), Some(1.0), Some(3)),
        "{stalled}"
    );
    let bad = row("bad-input");
    assert_eq!(
        (
            bad["state"].as_str(),
            bad["value"].as_f64(),
            bad["events"].as_u64()
        ),
        (Some("firing"), Some(2.0), Some(9)),
        "{bad}"
    );
}

#[test]
fn an_unreadable_alert_state_is_an_error_not_a_silent_reset() {
    let env = Env::new();
    record_cuj(&env, &scenario_events());
    // <root>/obsq.toml is the rules file when there is no --rules.
    std::fs::write(
        env.root().join("obsq.toml"),
        "[[alert]]\nname = \"cuj-success\"\nstream = \"cuj\"\nmetric = \"success_rate\"\nwindow = \"1h\"\nby = \"cuj_id\"\nbelow = 0.8\nmin_events = 20\n",
    )
    .unwrap();
    env.run_ok(
        &["alerts", "check", "--now", &at(150), "--format", "json"],
        1,
    );
    let state = env.root().join("alerts/state.json");
    let kept = std::fs::read_to_string(&state).unwrap();
    assert!(kept.contains("\"state\": \"firing\""), "{kept}");
    std::fs::write(&state, "{ truncated").unwrap();
    let out = env.run_ok(&["alerts", "check", "--now", &at(160)], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("alerts/state.json") && err.contains("move it away"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "{ truncated",
        "left as found"
    );
}
