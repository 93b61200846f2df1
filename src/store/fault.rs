//! Fault injection for the crash-safety tests: `OBSQ_FAULT=<point>:<n>[:<action>]` acts the n-th
//! time the named point is reached. The action is `kill` (SIGKILL, the default), `pause=<ms>`
//! (sleep, so a test can change the world mid-run), `enospc` (the write at that point fails
//! as on a full disk, where a test cannot fill one), or `lost-reply` / `timeout` (a conditional
//! create lands, but its writer is told the key was taken, or gets an error, as when an object
//! store's answer is lost). Unset (always, outside tests), it costs one atomic load per point.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static HITS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Kill,
    Pause(u64),
    NoSpace,
    LostReply,
    Timeout,
}

fn target() -> &'static Option<(String, u64, Action)> {
    static T: OnceLock<Option<(String, u64, Action)>> = OnceLock::new();
    T.get_or_init(|| {
        let v = std::env::var("OBSQ_FAULT").ok()?;
        let mut parts = v.splitn(3, ':');
        let p = parts.next()?.to_string();
        let n = parts.next().unwrap_or("1").parse().ok()?;
        let action = match parts.next() {
            None | Some("kill") => Action::Kill,
            Some("enospc") => Action::NoSpace,
            Some("lost-reply") => Action::LostReply,
            Some("timeout") => Action::Timeout,
            Some(a) => Action::Pause(a.strip_prefix("pause=")?.parse().ok()?),
        };
        Some((p, n, action))
    })
}

fn hit(name: &str) -> Option<&'static Action> {
    let (p, n, action) = target().as_ref()?;
    (p == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n).then_some(action)
}

/// Marks a point of a write path; dies (or pauses) there if `OBSQ_FAULT` names it.
pub fn point(name: &str) {
    match hit(name) {
        Some(Action::Kill) => {
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
        Some(Action::Pause(ms)) => std::thread::sleep(std::time::Duration::from_millis(*ms)),
        _ => {}
    }
}

/// Marks a write; returns the "no space left on device" error if `OBSQ_FAULT` names it with
/// the `enospc` action (other actions act as at [`point`]).
pub fn write_point(name: &str) -> std::io::Result<()> {
    match hit(name) {
        Some(Action::NoSpace) => Err(std::io::Error::from_raw_os_error(libc::ENOSPC)),
        Some(Action::Kill) => {
            // SAFETY: as above.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        }
        Some(Action::Pause(ms)) => {
            std::thread::sleep(std::time::Duration::from_millis(*ms));
            Ok(())
        }
        // A reply fault acts only at a create's answer (`reply`).
        Some(Action::LostReply | Action::Timeout) | None => Ok(()),
    }
}

/// What a writer is told of a conditional create that landed, at a point `OBSQ_FAULT` names
/// with `lost-reply` or `timeout`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reply {
    /// The true answer: created.
    Created,
    /// "The key exists" (object_store retries a 5xx, even of a conditional create, into a 412).
    Taken,
    /// An error (the request timed out after the store had written it).
    Failed,
}

/// The answer a writer gets at create point `name` (always [`Reply::Created`] outside tests).
pub fn reply(name: &str) -> Reply {
    match hit(name) {
        Some(Action::LostReply) => Reply::Taken,
        Some(Action::Timeout) => Reply::Failed,
        _ => Reply::Created,
    }
}
