//! The validated configuration built from the command line and the environment.

use std::path::PathBuf;

use crate::cli::Cli;
use crate::error::Result;
use crate::store::layout::Layout;

/// Settings every command shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data root's layout.
    pub layout: Layout,
}

impl TryFrom<&Cli> for Config {
    type Error = crate::error::Error;

    fn try_from(cli: &Cli) -> Result<Self> {
        let root = cli.root.clone().unwrap_or_else(|| PathBuf::from(".obsq"));
        let root = crate::store::sources::absolute(&root)?;
        Ok(Config {
            layout: Layout::new(root),
        })
    }
}
