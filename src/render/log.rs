//! The log of the cluster processes: Ballista reports why a job, stage or task failed through
//! the `log` crate, and a daemon's standard error is where its operator looks.
//!
//! Written here rather than taken from `env_logger`: that crate turns on `log`'s `std` feature,
//! which changes the features of every crate that depends on `log` (all of DataFusion) and so
//! rebuilds them, about 20 minutes on 2 cores, for what fits in this file.

use log::{LevelFilter, Log, Metadata, Record};

/// Writes records at or above a level to standard error, one line each.
struct Stderr;

static STDERR: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let now = crate::model::timefmt::iso_ms(chrono::Utc::now().timestamp_millis());
            eprintln!(
                "{now} {:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the log at the level `RUST_LOG` names (`error`, `warn`, `info`, `debug`, `trace`,
/// `off`); `warn` when it is unset or names none of them.
pub fn install() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::Warn);
    // A second install (none happens) would keep the first logger; nothing to report.
    if log::set_logger(&STDERR).is_ok() {
        log::set_max_level(level);
    }
}
