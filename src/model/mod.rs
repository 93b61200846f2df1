//! The four event streams: their Arrow schemas (the single source of truth), parsing and
//! normalization of JSONL records, sanitizing, error patterns and the Arrow batch builders.

pub mod batch;
pub mod canonical;
pub mod flex;
pub mod identity;
pub mod parse;
pub mod pattern;
pub mod sanitize;
pub mod scan;
pub mod schema;
pub mod timefmt;

pub use parse::{Normalized, ParseError, parse_line};
pub use schema::{Col, Stream};
