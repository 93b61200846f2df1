//! The validated configuration built from the command line and the environment.

use std::path::{Path, PathBuf};

use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::store::layout::{Layout, Remote};

/// Settings every command shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data root's layout.
    pub layout: Layout,
    /// The Ballista cluster queries run on (`--cluster`, `$OBSQ_CLUSTER`), checked.
    pub cluster: Option<String>,
}

impl Config {
    /// The query engine's options every query command starts from.
    pub fn engine(&self) -> crate::engine::EngineOptions {
        crate::engine::EngineOptions {
            cluster: self.cluster.clone(),
            ..Default::default()
        }
    }
}

impl TryFrom<&Cli> for Config {
    type Error = crate::error::Error;

    fn try_from(cli: &Cli) -> Result<Self> {
        let cluster = match cli.cluster.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(crate::engine::cluster::parse_url(c)?),
            None => None,
        };
        if let Some(url) = cli.root.as_deref().and_then(|r| r.to_str())
            && let Some(parsed) = Remote::parse(url)
        {
            let (bucket, prefix) = parsed?;
            return Ok(Config {
                layout: remote_layout(url, bucket, prefix)?,
                cluster,
            });
        }
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
            cluster,
        })
    }
}

/// The layout of an object-store root: its cache directory is
/// `$XDG_CACHE_HOME/obsq/<bucket>-<prefix>-<hash of endpoint and URL>` (else `~/.cache/obsq/…`),
/// made on first use with this cache's spool id.
fn remote_layout(url: &str, bucket: String, prefix: String) -> Result<Layout> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(h) => PathBuf::from(h).join(".cache"),
            None => {
                return Err(Error::Usage(
                    "an S3 root needs a local cache directory: set XDG_CACHE_HOME or HOME".into(),
                ));
            }
        },
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT"))
        .unwrap_or_default();
    let hash = xxhash_rust::xxh3::xxh3_64(format!("{endpoint}\n{url}").as_bytes());
    let name: String = format!("{bucket}-{prefix}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cache = base.join("obsq").join(format!("{name}-{hash:016x}"));
    std::fs::create_dir_all(&cache).map_err(|e| Error::io("create directory", &cache, e))?;
    let id_file = cache.join("spool-id");
    let spool_id = match std::fs::read_to_string(&id_file) {
        Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => {
            let id = uuid::Uuid::now_v7().simple().to_string();
            std::fs::write(&id_file, &id).map_err(|e| Error::io("write", &id_file, e))?;
            id
        }
    };
    let remote = Remote {
        url: url.trim_end_matches('/').to_string(),
        bucket,
        prefix,
        spool_id,
        host: hostname(),
    };
    Ok(Layout::remote(cache, remote))
}

/// This machine's host name (`localhost` when it has none).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates what fits.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match rc == 0 && end > 0 {
        true => String::from_utf8_lossy(&buf[..end]).into_owned(),
        false => "localhost".into(),
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
