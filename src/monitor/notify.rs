//! Notifications: what a check decided to send becomes one [`Notification`] per target in the
//! outbox of the alert state; delivery posts the outbox oldest first, with a timeout and
//! retries, and keeps what failed for the next check (a failed notification is reported, never
//! dropped). Webhooks get a JSON body with a `text` line Slack accepts; Alertmanager gets its
//! API v2 (`POST /api/v2/alerts`). Alertmanager also gets every still-firing alert at each
//! check, as Prometheus does, so that it keeps it active (`endsAt` = now + the target's `hold`).
//!
//! HTTP goes through `reqwest` (the client `object_store` uses too), with rustls for https.

use std::time::Duration;

use serde_json::{Value, json};

use super::eval::{Notify, Outcome, Row};
use super::rules::{Notifier, NotifyKind};
use super::state::{Notification, State};
use crate::model::timefmt::iso_ms;

/// The most notifications the outbox keeps per target; older ones are dropped with a notice.
pub const OUTBOX_LIMIT: usize = 10_000;

/// The outcome of one delivery attempt round.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The target.
    pub target: String,
    /// The rule.
    pub rule: String,
    /// The group.
    pub group: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Delivered now.
    pub sent: bool,
    /// Attempts so far.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
}

/// The notifications of one check, one per target.
pub fn build(outcome: &Outcome, targets: &[Notifier], now: i64) -> Vec<Notification> {
    let mut out = Vec::new();
    for n in &outcome.notify {
        let row = &outcome.rows[n.row];
        for t in targets {
            out.push(notification(row, n, t, now));
        }
    }
    out
}

fn notification(row: &Row, n: &Notify, target: &Notifier, now: i64) -> Notification {
    Notification {
        id: uuid::Uuid::now_v7().to_string(),
        target: target.id(),
        status: n.status.to_string(),
        kind: row.kind.to_string(),
        rule: row.rule.clone(),
        group: row.group.clone(),
        labels: row.labels(),
        summary: summary(row, n),
        value: row.value,
        threshold: row.threshold,
        starts_at: n.starts_at,
        ends_at: (n.status == "resolved").then_some(now),
        repeat: n.repeat,
        created_at: now,
        attempts: 0,
        last_error: None,
    }
}

/// `[FIRING] cuj-success cuj_id=CUJ-001: success_rate 0.6 below 0.8 over 1h (50 events), severity page`.
pub fn summary(row: &Row, n: &Notify) -> String {
    let group = row
        .by
        .map_or(String::new(), |b| format!(" {b}={}", row.group));
    let value = row
        .value
        .map_or("no data".to_string(), |v| format!("{}", round4(v)));
    let tag = match (n.status, n.repeat) {
        ("resolved", _) => "RESOLVED",
        (_, true) => "FIRING (repeat)",
        _ => "FIRING",
    };
    let what = if row.kind == "slo" {
        format!(
            "error budget burning at {value}x (threshold {}x), {} budget left over {}",
            round4(row.threshold),
            row.budget_remaining
                .map_or("no".to_string(), |b| format!("{:.1}%", b * 100.0)),
            duration_text(row.window_ms)
        )
    } else {
        format!(
            "{} {value} {} {} over {} ({} events)",
            row.metric,
            row.op,
            round4(row.threshold),
            duration_text(row.window_ms),
            row.events
        )
    };
    format!(
        "[{tag}] {}{group}: {what}, severity {}",
        row.rule, row.severity
    )
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// `90m` → `1h30m`-style text of a duration in ms.
pub fn duration_text(ms: i64) -> String {
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in units {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// The webhook body.
fn webhook_body(n: &Notification) -> Value {
    json!({
        "text": n.summary,
        "status": n.status,
        "kind": n.kind,
        "rule": n.rule,
        "group": n.group,
        "labels": n.labels,
        "value": n.value,
        "threshold": n.threshold,
        "repeat": n.repeat,
        "startsAt": iso_ms(n.starts_at),
        "endsAt": n.ends_at.map(iso_ms),
    })
}

/// One Alertmanager alert; a firing one stays active for `hold_ms` unless a check renews it.
fn alertmanager_alert(n: &Notification, now: i64, hold_ms: i64) -> Value {
    let ends = n.ends_at.unwrap_or(now + hold_ms);
    json!({
        "labels": n.labels,
        "annotations": { "summary": n.summary },
        "startsAt": iso_ms(n.starts_at),
        "endsAt": iso_ms(ends),
        "generatorURL": "obsq://alerts",
    })
}

/// Posts the outbox (oldest first) and, to Alertmanager targets, every still-firing alert.
/// Returns what happened to each outbox entry; delivered ones leave the outbox.
pub async fn deliver(
    outbox: &mut Vec<Notification>,
    targets: &[Notifier],
    outcome: &Outcome,
    now: i64,
) -> Vec<Delivery> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("obsq/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with default settings builds");
    let mut report = Vec::new();
    let mut kept = Vec::new();
    for mut n in std::mem::take(outbox) {
        let Some(target) = targets.iter().find(|t| t.id() == n.target) else {
            // The target left the rules file: nothing to deliver it to. Said, then dropped.
            report.push(delivery(
                &n,
                false,
                Some("target no longer configured; dropped".into()),
            ));
            continue;
        };
        let body = match target.kind {
            NotifyKind::Webhook => webhook_body(&n),
            NotifyKind::Alertmanager => json!([alertmanager_alert(&n, now, target.hold_ms)]),
        };
        let (ok, err, tries) = post(&client, target, &body).await;
        n.attempts += tries;
        n.last_error = err.clone();
        report.push(delivery(&n, ok, err));
        if !ok {
            kept.push(n);
        }
    }
    // Keep the newest OUTBOX_LIMIT per target.
    for t in targets {
        let id = t.id();
        let count = kept.iter().filter(|n| n.target == id).count();
        if count > OUTBOX_LIMIT {
            let mut drop = count - OUTBOX_LIMIT;
            crate::notice::push(format!(
                "{drop} undelivered notifications to {id} dropped: the outbox keeps {OUTBOX_LIMIT} per target"
            ));
            kept.retain(|n| {
                if n.target == id && drop > 0 {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
    *outbox = kept;
    // Alertmanager forgets an alert that is not renewed; renew every firing one.
    let firing: Vec<&Row> = outcome
        .rows
        .iter()
        .filter(|r| r.state == State::Firing)
        .collect();
    for t in targets
        .iter()
        .filter(|t| t.kind == NotifyKind::Alertmanager)
    {
        if firing.is_empty() {
            continue;
        }
        let alerts: Vec<Value> = firing
            .iter()
            .map(|r| {
                let n = Notify {
                    row: 0,
                    status: "firing",
                    repeat: false,
                    starts_at: r.since,
                };
                json!({
                    "labels": r.labels(),
                    "annotations": { "summary": summary(r, &n) },
                    "startsAt": iso_ms(r.since),
                    "endsAt": iso_ms(now + t.hold_ms),
                    "generatorURL": "obsq://alerts",
                })
            })
            .collect();
        let (ok, err, _) = post(&client, t, &Value::Array(alerts)).await;
        if !ok {
            crate::notice::push(format!(
                "could not renew {} firing alert(s) at {}: {}",
                firing.len(),
                t.url,
                err.unwrap_or_default()
            ));
        }
    }
    report
}

fn delivery(n: &Notification, sent: bool, error: Option<String>) -> Delivery {
    Delivery {
        target: n.target.clone(),
        rule: n.rule.clone(),
        group: n.group.clone(),
        status: n.status.clone(),
        sent,
        attempts: n.attempts,
        error,
    }
}

/// Posts `body` with the target's timeout, up to its attempts with doubling back-off (from
/// 200 ms). Returns (delivered, the last error, attempts made).
async fn post(client: &reqwest::Client, t: &Notifier, body: &Value) -> (bool, Option<String>, u32) {
    let url = match t.kind {
        NotifyKind::Webhook => t.url.clone(),
        NotifyKind::Alertmanager => format!("{}/api/v2/alerts", t.url),
    };
    let mut last = None;
    for attempt in 0..t.attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200u64 << (attempt - 1))).await;
        }
        let sent = client
            .post(&url)
            .timeout(Duration::from_millis(t.timeout_ms.max(1) as u64))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => return (true, None, attempt + 1),
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                last = Some(format!("{url} answered {status}: {}", text.trim()));
                // A client error will not change on a retry.
                if status.is_client_error() && status.as_u16() != 429 {
                    return (false, last, attempt + 1);
                }
            }
            Err(e) => last = Some(format!("{url}: {}", error_chain(&e))),
        }
    }
    (false, last, t.attempts)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
