//! The validated configuration built from the command line and the environment.

use std::path::{Path, PathBuf};

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
        let root = match &cli.root {
            Some(r) => crate::store::sources::absolute(r)?,
            None => {
                let cwd = std::env::current_dir()
                    .map_err(|e| crate::error::Error::io("read", "the working directory", e))?;
                find_root(&cwd)
            }
        };
        Ok(Config {
            layout: Layout::new(root),
        })
    }
}

/// The nearest `.obsq` directory in `dir` or one of its parents (as git finds `.git`), so that
/// agents started in sub-directories share their project's data; else `dir/.obsq`.
pub fn find_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .map(|d| d.join(".obsq"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| dir.join(".obsq"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_found_in_a_parent_like_git_finds_dot_git() {
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_root(&deep), deep.join(".obsq"));
        std::fs::create_dir_all(t.path().join("a/.obsq")).unwrap();
        assert_eq!(find_root(&deep), t.path().join("a/.obsq"));
    }
}
