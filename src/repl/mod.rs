//! The interactive SQL shell's parts: statement splitting, backslash commands and completion.
//! The loop itself is `commands::repl`.
//!
//! Why rustyline rather than datafusion-cli's library: datafusion-cli's `exec` loop owns the
//! printing and its helper has no completion of table, column or function names; it also pulls
//! in cloud object-store features obsq does not build. rustyline gives the line editor (history,
//! multi-line, Ctrl-C/Ctrl-D) and obsq adds completion from its own session.

pub mod complete;
pub mod meta;
pub mod split;
