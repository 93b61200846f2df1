//! obsq tested as users run it: the binary on temporary data roots.

mod backfill;
mod bad_input;
mod cluster;
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
mod s3;
mod secrets;
mod servers;
mod terminal;
mod util;
