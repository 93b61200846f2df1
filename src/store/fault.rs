//! Fault injection for the crash-safety tests: `OBSQ_FAULT=<point>:<n>` kills the process with
//! SIGKILL the n-th time the named point is reached. Unset (always, outside tests), it costs one
//! atomic load per point.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static HITS: AtomicU64 = AtomicU64::new(0);

fn target() -> &'static Option<(String, u64)> {
    static T: OnceLock<Option<(String, u64)>> = OnceLock::new();
    T.get_or_init(|| {
        let v = std::env::var("OBSQ_FAULT").ok()?;
        let (p, n) = v.split_once(':').unwrap_or((&v, "1"));
        Some((p.to_string(), n.parse().ok()?))
    })
}

/// Marks a point of a write path; dies there if `OBSQ_FAULT` names it.
pub fn point(name: &str) {
    if let Some((p, n)) = target()
        && p == name
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
