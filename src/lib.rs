//! obsq records, stores and analyses the monitoring events of AI-agent systems: skill
//! invocations, CUJ (workflow) runs, progress events and LLM-provider calls.
//!
//! Layers: `cli`/`config` → `commands` → `reports` (canned queries) → `engine` (queries) and `store` (writes) → `model`
//! (schemas, parsing, sanitizing); `render` formats results and is called only by `commands`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod generate;
pub mod model;
pub mod monitor;
pub mod notice;
pub mod render;
pub mod repl;
pub mod reports;
pub mod store;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub mod zstd_contexts;

pub use error::{Error, Result};
pub use store::Recorder;
