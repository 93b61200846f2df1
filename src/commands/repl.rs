//! `obsq repl`: interactive, read-only SQL over the shared session (stream tables with fresh
//! events, `system.*`, obsq's functions and the canned reports as table functions). On a
//! terminal it is a line editor with history, completion and multi-line statements; with piped
//! input it runs the statements and exits non-zero if one failed.

use std::io::{IsTerminal, Read, Write};
use std::time::Instant;

use datafusion::prelude::SessionContext;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config as RlConfig, Editor};
use tokio::runtime::Runtime;

use crate::cli::ReplArgs;
use crate::config::Config;
use crate::engine::{EngineOptions, run_user_sql, session};
use crate::error::{Error, Result};
use crate::model::timefmt::{now_ms, parse_iso_ms};
use crate::render::{Cell, Format, render, rows_to_batch};
use crate::repl::complete::{Names, ReplHelper};
use crate::repl::meta::{HELP, Meta};
use crate::repl::split::split_statements;
use crate::reports::table_fn::{FUNCTIONS, register, register_views};

/// The shell's state between inputs.
struct Shell {
    rt: Runtime,
    ctx: SessionContext,
    /// What a fresh session is built from before each statement: a new catalog snapshot (files
    /// compacted away since are never read) and, without `--now`, a new clock.
    layout: crate::store::layout::Layout,
    objects: crate::store::objects::Objects,
    opts: EngineOptions,
    fixed_now: Option<i64>,
    format: Format,
    timing: bool,
    failed: usize,
    quit: bool,
    /// SQL typed so far that does not end a statement yet.
    pending: String,
    /// SIGINT, listened to from the start so that Ctrl-C during a query never kills the shell.
    #[cfg(unix)]
    sigint: tokio::signal::unix::Signal,
}

/// Runs `obsq repl`.
pub fn run(config: &Config, args: &ReplArgs) -> Result<u8> {
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let fixed_now = match &args.now {
        Some(s) => Some(parse_iso_ms(s).ok_or_else(|| {
            Error::Usage(format!(
                "invalid --now `{s}`: use RFC 3339, e.g. 2026-11-28T09:51:50Z"
            ))
        })?),
        None => None,
    };
    let now = fixed_now.unwrap_or_else(now_ms);
    let opts = EngineOptions {
        fresh: !args.no_fresh,
        ..config.engine()
    };
    let ctx = rt.block_on(async { session(&config.layout, &objects, &opts) })?;
    register(&ctx, now);
    rt.block_on(register_views(&ctx, now))?;
    let interactive = std::io::stdin().is_terminal();
    #[cfg(unix)]
    let sigint = {
        let _ctx = rt.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(|e| Error::io("listen for", "Ctrl-C (SIGINT)", e))?
    };
    let mut shell = Shell {
        rt,
        ctx,
        layout: config.layout.clone(),
        objects: objects.clone(),
        opts: opts.clone(),
        fixed_now,
        format: args.format.unwrap_or(if interactive {
            Format::Table
        } else {
            Format::Csv
        }),
        timing: false,
        failed: 0,
        quit: false,
        pending: String::new(),
        #[cfg(unix)]
        sigint,
    };
    if interactive {
        interactive_loop(&mut shell, &config.layout.root().join("repl_history"))?;
        // Errors were shown as they happened; leaving the shell is not a failure.
        return Ok(0);
    } else {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Error::io("read", "standard input", e))?;
        shell.feed(&input);
        shell.finish();
    }
    Ok(if shell.failed > 0 { 1 } else { 0 })
}

fn interactive_loop(shell: &mut Shell, history: &std::path::Path) -> Result<()> {
    let config = RlConfig::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut rl: Editor<ReplHelper, DefaultHistory> = Editor::with_config(config)
        .map_err(|e| Error::Usage(format!("cannot start the line editor: {e}")))?;
    let names = shell.rt.block_on(Names::of(&shell.ctx));
    rl.set_helper(Some(ReplHelper { names }));
    let _ = rl.load_history(history);
    eprintln!(
        "obsq {} — read-only SQL; \\? for help, \\q or Ctrl-D to quit.",
        env!("CARGO_PKG_VERSION")
    );
    while !shell.quit {
        match rl.readline("obsq> ") {
            Ok(input) => {
                if !input.trim().is_empty() {
                    let _ = rl.add_history_entry(input.trim());
                }
                shell.feed(&input);
            }
            Err(ReadlineError::Interrupted) => shell.pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Usage(format!("line editor failed: {e}"))),
        }
    }
    if let Err(e) = rl.save_history(history) {
        eprintln!("warning: cannot save history to {}: {e}", history.display());
    }
    Ok(())
}

impl Shell {
    /// Runs every complete statement and backslash command in `text`; keeps the unfinished rest.
    fn feed(&mut self, text: &str) {
        for line in text.lines() {
            if self.quit {
                return;
            }
            if self.pending.trim().is_empty() && line.trim_start().starts_with('\\') {
                self.pending.clear();
                match Meta::parse(line) {
                    Ok(m) => self.meta(m),
                    Err(msg) => self.fail(&msg),
                }
                continue;
            }
            self.pending.push_str(line);
            self.pending.push('\n');
            let (statements, rest) = split_statements(&self.pending);
            self.pending = rest;
            for s in statements {
                self.sql(&s);
            }
        }
    }

    /// Runs a last statement given without its `;` (piped input).
    fn finish(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        if !rest.trim().is_empty() && !self.quit {
            self.sql(&rest);
        }
    }

    /// A new session: the catalog's current snapshot, the fresh tail as it is now, the clock.
    fn refresh(&mut self) -> Result<()> {
        let now = self.fixed_now.unwrap_or_else(now_ms);
        let ctx = session(&self.layout, &self.objects, &self.opts)?;
        register(&ctx, now);
        self.rt.block_on(register_views(&ctx, now))?;
        self.ctx = ctx;
        Ok(())
    }

    fn sql(&mut self, sql: &str) {
        let start = Instant::now();
        if let Err(e) = self.refresh() {
            self.fail(&chain(&e));
            return;
        }
        #[cfg(unix)]
        let interrupted = self.sigint.recv();
        #[cfg(not(unix))]
        let interrupted = tokio::signal::ctrl_c();
        let ctx = &self.ctx;
        let run = self.rt.block_on(async {
            tokio::select! {
                r = run_user_sql(ctx, sql) => r.map(Some),
                _ = interrupted => Ok(None),
            }
        });
        match run {
            Ok(Some(batches)) => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                self.show(&batches);
                if self.timing {
                    let s = if rows == 1 { "" } else { "s" };
                    eprintln!("({rows} row{s} in {:.3} s)", start.elapsed().as_secs_f64());
                }
            }
            Ok(None) => eprintln!("cancelled (Ctrl-C)"),
            Err(e) => self.fail(&chain(&e)),
        }
    }

    fn show(&mut self, batches: &[arrow::record_batch::RecordBatch]) {
        let mut out = std::io::stdout().lock();
        if let Err(e) = render(batches, self.format, &mut out).and_then(|_| {
            out.flush()
                .map_err(|e| Error::io("write", "standard output", e))
        }) {
            self.fail(&chain(&e));
        }
    }

    fn fail(&mut self, msg: &str) {
        self.failed += 1;
        eprintln!("error: {msg}");
    }

    fn meta(&mut self, m: Meta) {
        match m {
            Meta::Describe(None) => self.sql(
                "SELECT table_schema AS schema, table_name AS name, table_type AS type \
                 FROM information_schema.tables WHERE table_schema <> 'information_schema' \
                 ORDER BY table_schema, table_name",
            ),
            Meta::Describe(Some(name)) => {
                let (schema, table) = name.split_once('.').unwrap_or(("public", &name));
                let q = |s: &str| s.replace('\'', "''");
                let sql = format!(
                    "SELECT column_name AS column, data_type AS type, is_nullable AS nullable \
                     FROM information_schema.columns WHERE table_schema = '{}' AND table_name = '{}' \
                     ORDER BY ordinal_position",
                    q(schema),
                    q(table)
                );
                match self.rt.block_on(run_user_sql(&self.ctx, &sql)) {
                    Ok(b) if b.iter().map(|b| b.num_rows()).sum::<usize>() == 0 => {
                        self.fail(&format!("no table named {name} (\\d lists them)"))
                    }
                    Ok(b) => self.show(&b),
                    Err(e) => self.fail(&chain(&e)),
                }
            }
            Meta::Format(f) => self.format = f,
            Meta::Timing => {
                self.timing = !self.timing;
                eprintln!("timing {}", if self.timing { "on" } else { "off" });
            }
            Meta::Include(file) => match std::fs::read_to_string(&file) {
                Ok(text) => {
                    self.feed(&text);
                    self.finish();
                }
                Err(e) => self.fail(&format!("cannot read {file}: {e}")),
            },
            Meta::Reports => {
                let rows: Vec<Vec<Cell>> = FUNCTIONS
                    .iter()
                    .map(|f| vec![f.signature().into(), f.description().into()])
                    .collect();
                self.table(&["function", "description"], &rows);
            }
            Meta::Help => {
                let rows: Vec<Vec<Cell>> = HELP
                    .iter()
                    .map(|(s, d)| vec![(*s).into(), (*d).into()])
                    .collect();
                self.table(&["command", "what it does"], &rows);
            }
            Meta::Quit => self.quit = true,
        }
    }

    fn table(&mut self, columns: &[&str], rows: &[Vec<Cell>]) {
        match rows_to_batch(columns, rows) {
            Ok(b) => self.show(&[b]),
            Err(e) => self.fail(&chain(&e)),
        }
    }
}

/// An error and its causes on one line.
fn chain(e: &Error) -> String {
    e.chain_text()
}
