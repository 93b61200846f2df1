//! obsq tested as users run it: the binary on temporary data roots.

mod backfill;
mod bad_input;
mod compact;
mod concurrency;
mod crash;
mod durable;
mod fixtures;
mod golden;
mod interop;
mod monitor;
mod record;
mod repl;
mod reports;
mod secrets;
mod terminal;
mod util;
