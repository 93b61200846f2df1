//! How obsq meets people: `demo`, `progress watch`, the HTML dashboard in a browser,
//! completions, and an example in every `--help`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Env, copy_tree, fixture_context};

const NOW: &str = "2026-11-28T09:51:50.000Z";

#[test]
fn every_command_help_has_an_example() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            let p = format!("{path} {}", sub.get_name());
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !help.contains("Example") {
                missing.push(p.clone());
            }
            walk(sub, &p, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&obsq::cli::Cli::command(), "obsq", &mut missing);
    assert!(missing.is_empty(), "no example in --help of: {missing:?}");
}

#[test]
fn completions_are_generated_for_each_shell() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.run_ok(&["completions", shell], 0);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("obsq") && text.contains("dashboard"),
            "{shell}"
        );
    }
}

#[test]
fn demo_generates_ingests_and_shows_the_dashboard() {
    let env = Env::new();
    let out = env.run(&["demo", "--rows", "3000"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PERFORMANCE METRICS DASHBOARD"), "{stdout}");
    assert!(stdout.contains("PROVIDER HEALTH"), "{stdout}");
    assert!(stdout.contains("Next, try:"), "{stdout}");
    assert!(env.count("skill_invocations", false) > 0);
}

#[test]
fn watch_prints_events_of_other_processes_in_order_until_done() {
    let env = Env::new();
    env.run_ok(
        &[
            "record",
            "progress",
            "--run-id",
            "run-w",
            "--message",
            "before",
        ],
        0,
    );
    let mut child = env
        .cmd(&["progress", "watch", "run-w", "--until-done"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("Watching progress for run run-w"), "{first}");
    let events = [
        ("1", "running", "20", "step one"),
        ("2", "running", "40", "step two"),
        ("3", "skipped", "60", "step three"),
        ("4", "running", "80", "step four"),
        ("5", "completed", "100", "all done"),
    ];
    env.run_ok(
        &[
            "record",
            "progress",
            "--run-id",
            "other",
            "--message",
            "noise",
        ],
        0,
    );
    for (step, status, pct, msg) in events {
        env.run_ok(
            &[
                "record",
                "progress",
                "--run-id",
                "run-w",
                "--step",
                step,
                "--status",
                status,
                "--percentage",
                pct,
                "--message",
                msg,
            ],
            0,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "watch did not exit after the completing event"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (line, (step, status, pct, msg)) in lines.iter().zip(events) {
        assert!(line.contains("[run-w]"), "{line}");
        assert!(
            line.contains(&format!("Step {step} {:<10} {pct}%", status.to_uppercase())),
            "{line}"
        );
        assert!(line.ends_with(msg), "{line}");
    }
}

#[test]
fn html_dashboard_loads_in_chromium_with_charts_and_headlines() {
    let env = Env::new();
    let ctx = env.path("project/.claude/context");
    copy_tree(&fixture_context(), &ctx);
    env.run_ok(&["ingest", "--source", ctx.to_str().unwrap()], 0);
    let page = env.path("dashboard.html");
    env.run_ok(
        &[
            "dashboard",
            "--format",
            "html",
            "--now",
            NOW,
            "--out",
            page.to_str().unwrap(),
        ],
        0,
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["src=", "href=", "<script", "@import", "url("] {
        assert!(!html.contains(external), "self-contained: found {external}");
    }
    let json: Value = serde_json::from_slice(
        &env.run_ok(&["dashboard", "--format", "json", "--now", NOW], 0)
            .stdout,
    )
    .unwrap();
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .expect("Chromium is needed by this test (.ci/run installs Debian's chromium)");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("CONSOLE"), "console messages: {log}");
    assert!(!log.contains("Uncaught"), "{log}");
    assert!(
        dom.matches("<svg").count() >= 4,
        "charts: {}",
        dom.matches("<svg").count()
    );
    assert!(dom.contains("<polyline"), "a trend line is drawn");
    // A headline number, read from the DOM, equals the JSON dashboard's.
    let rate = json["summary"]["cujs"]["24h_summary"]["overall_success_rate"]
        .as_f64()
        .unwrap();
    let marker = "id=\"headline-cuj-success\">";
    let at = dom.find(marker).expect("headline in the DOM") + marker.len();
    let shown = &dom[at..at + dom[at..].find('<').unwrap()];
    assert_eq!(shown, format!("{:.1}%", rate * 100.0));
    assert_eq!(shown, "47.6%");
}
