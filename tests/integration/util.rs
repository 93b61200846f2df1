//! Helpers: a temporary data root, running the binary, counting rows.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the obsq binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_obsq")
}

/// A temporary data root plus a scratch directory for inputs.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--root").arg(self.root()).args(args);
        c.env_remove("OBSQ_HOME").env_remove("OBSQ_FAULT");
        c
    }

    /// Runs obsq and returns its output (any exit code).
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run obsq")
    }

    /// Runs obsq and asserts the exit code.
    pub fn run_ok(&self, args: &[&str], code: i32) -> Output {
        expect_code(self.run(args), code, &format!("obsq {args:?}"))
    }

    /// One-column, one-row query result as text.
    pub fn scalar(&self, sql: &str, fresh: bool) -> String {
        let mut args = vec!["sql", sql, "--format", "csv"];
        if !fresh {
            args.push("--no-fresh");
        }
        let out = self.run_ok(&args, 0);
        let text = String::from_utf8(out.stdout).expect("utf8");
        text.lines().nth(1).unwrap_or_default().to_string()
    }

    /// Row count of a table (committed Parquet only, or with the fresh tail).
    pub fn count(&self, table: &str, fresh: bool) -> u64 {
        self.scalar(&format!("SELECT count(*) FROM {table}"), fresh)
            .parse()
            .expect("a count")
    }

    /// Query rows as CSV lines (header dropped).
    pub fn csv_rows(&self, sql: &str) -> Vec<String> {
        let out = self.run_ok(&["sql", sql, "--format", "csv"], 0);
        String::from_utf8(out.stdout)
            .expect("utf8")
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect()
    }
}

/// Non-blank lines of a file.
pub fn count_lines(path: &Path) -> u64 {
    let data = std::fs::read(path).expect("read");
    data.split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// Every file below `dir` whose name ends with `suffix`.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_with_suffix(&p, suffix));
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The fixture folder written by the original tools.
pub fn fixture_context() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-context")
}

impl Env {
    /// Runs obsq with `input` on its standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn obsq");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait obsq")
    }
}

impl Env {
    /// Runs `obsq generate`: `rows` seeded events over `days` days ending 2026-11-28, into `out`.
    pub fn generate(&self, out: &Path, rows: u32, seed: usize, days: u32) {
        self.run_ok(
            &[
                "generate",
                "--rows",
                &rows.to_string(),
                "--seed",
                &seed.to_string(),
                "--days",
                &days.to_string(),
                "--end",
                "2026-11-28",
                "--out",
                out.to_str().unwrap(),
            ],
            0,
        );
    }
}

/// Lines per table in the generated source folders under `dirs`.
pub fn lines_per_table(dirs: &[&Path]) -> Vec<u64> {
    let prefixes = [
        "skill-invocations-",
        "cuj-metrics",
        "progress",
        "provider-health",
    ];
    prefixes
        .iter()
        .map(|pre| {
            dirs.iter()
                .flat_map(|d| files_with_suffix(d, ".jsonl"))
                .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(pre))
                .map(|p| count_lines(&p))
                .sum()
        })
        .collect()
}

/// Asserts a finished command's exit code, showing `what` and its output otherwise.
pub fn expect_code(out: Output, code: i32, what: &str) -> Output {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
