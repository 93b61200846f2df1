//! What `obsq alerts check` keeps between runs, in the data root: `alerts/state.json` (each
//! rule and group's state, and the outbox of notifications not yet delivered) and
//! `alerts/history/<uuidv7>.jsonl` (the transitions of one check; `system.alerts` reads them).
//! A state file that cannot be read is an error, never a silent reset: the transitions it
//! would lose are what a cron job watches.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::objects::Objects;

/// The state file.
pub const STATE: &str = "alerts/state.json";
/// The history files' prefix.
pub const HISTORY: &str = "alerts/history/";

/// The state of one rule and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Enough events, threshold not breached.
    Ok,
    /// Fewer events than `min_events`: nothing to judge, never firing.
    Insufficient,
    /// Breached for less than `for`.
    Pending,
    /// Breached for at least `for`.
    Firing,
    /// Was firing and is not any more (shown once; then `ok` or `insufficient`).
    Resolved,
}

impl State {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Insufficient => "insufficient",
            State::Pending => "pending",
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }
}

/// One rule and group as of the last check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    /// The rule.
    pub rule: String,
    /// The group's value (empty without `by`).
    pub group: String,
    /// Its state.
    pub state: State,
    /// When it entered this state (pending and firing: when the breach began), epoch ms.
    pub since: i64,
    /// When it last went to a notifier, epoch ms.
    #[serde(default)]
    pub last_notified: Option<i64>,
    /// The severity it fired with.
    #[serde(default)]
    pub severity: String,
}

/// A notification to one target, kept in the outbox until delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Unique id.
    pub id: String,
    /// The target's identity ([`crate::monitor::rules::Notifier::id`]).
    pub target: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// `alert` or `slo`.
    pub kind: String,
    /// The rule.
    pub rule: String,
    /// The group's value (empty without `by`).
    pub group: String,
    /// `alertname`, `severity` and the group labels.
    pub labels: BTreeMap<String, String>,
    /// One line for people (Slack's `text`).
    pub summary: String,
    /// The value measured.
    pub value: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// When the breach began, epoch ms.
    pub starts_at: i64,
    /// When it ended (resolved), epoch ms.
    pub ends_at: Option<i64>,
    /// A repeat of a still-firing alert.
    pub repeat: bool,
    /// The check that made it, epoch ms.
    pub created_at: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertState {
    /// The `--now` of the last check, epoch ms.
    pub evaluated_at: Option<i64>,
    /// Every rule and group seen.
    pub tracked: Vec<Tracked>,
    /// Notifications not yet delivered, oldest first.
    pub outbox: Vec<Notification>,
}

/// One state change, as `system.alerts` and `alerts history` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The check's `--now`, epoch ms.
    pub at: i64,
    /// `alert` or `slo`.
    pub kind: String,
    /// The rule.
    pub rule: String,
    /// The group's value (empty without `by`).
    pub group: String,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// The value measured.
    pub value: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// Events in the window.
    pub events: u64,
    /// The severity label.
    pub severity: String,
}

/// Reads the state (empty before the first check).
pub fn load(objects: &Objects) -> Result<AlertState> {
    let Some(bytes) = objects.get_opt(STATE)? else {
        return Ok(AlertState::default());
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::Usage(format!(
            "{STATE} in the data root is not readable ({e}); move it away to start the alert \
             states over (the history in {HISTORY} is kept)"
        ))
    })
}

/// Replaces the state file (a whole-object put: a reader sees the old or the new one).
pub fn save(objects: &Objects, state: &AlertState) -> Result<()> {
    let json = serde_json::to_vec_pretty(state).expect("alert state serializes");
    objects.put(STATE, Bytes::from(json))
}

/// Writes one check's transitions as a new history file.
pub fn append_history(objects: &Objects, transitions: &[Transition]) -> Result<()> {
    if transitions.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for t in transitions {
        text.push_str(&serde_json::to_string(t).expect("transition serializes"));
        text.push('\n');
    }
    let path = format!("{HISTORY}{}.jsonl", uuid::Uuid::now_v7());
    objects.put(&path, Bytes::from(text))
}

/// Every transition, oldest first. A line that does not parse is reported, not dropped silently.
pub fn history(objects: &Objects) -> Result<Vec<Transition>> {
    let mut files = objects.list(HISTORY)?;
    files.sort();
    let mut out = Vec::new();
    for (path, _) in files {
        let bytes = objects.get(&path)?;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let t: Transition = serde_json::from_slice(line).map_err(|e| {
                Error::Usage(format!(
                    "{path}:{}: not an alert transition ({e}); move the file away to read the rest",
                    i + 1
                ))
            })?;
            out.push(t);
        }
    }
    out.sort_by_key(|t| t.at);
    Ok(out)
}
