//! Notices for the user that lower layers raise (a rebuilt index, a missing source) and only the
//! binary prints, on stderr, so that nothing below `commands` writes to the terminal.

use std::sync::Mutex;

static NOTICES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Queues a notice.
pub fn push(msg: impl Into<String>) {
    if let Ok(mut v) = NOTICES.lock() {
        v.push(msg.into());
    }
}

/// Takes every queued notice.
pub fn drain() -> Vec<String> {
    NOTICES
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}
