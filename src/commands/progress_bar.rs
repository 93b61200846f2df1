//! A progress bar for long runs (bytes, rate, ETA) on stderr — only when stderr is a terminal,
//! so piped and logged output stays clean. No colours are used, so `NO_COLOR` needs no special
//! case.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::store::ingest::IngestProgress;

/// A bar following an [`IngestProgress`]; it stops and clears when dropped.
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a bar for `progress` if stderr is a terminal.
pub fn follow(progress: &Arc<IngestProgress>, what: &'static str) -> Option<Bar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (progress.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what);
        while !s.load(Ordering::Relaxed) {
            bar.set_length(p.total.load(Ordering::Relaxed));
            bar.set_position(p.done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    });
    Some(Bar {
        stop,
        thread: Some(thread),
    })
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
