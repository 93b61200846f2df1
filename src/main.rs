//! The `obsq` binary: parse arguments, build the configuration, run the command, map the result
//! to an exit code (0 ok, 2 error, 3 ingest quarantined lines; a closed pipe is not an error).

use std::process::ExitCode;

use clap::Parser;
use obsq::cli::Cli;
use obsq::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result =
        Config::try_from(&cli).and_then(|config| obsq::commands::run(&config, cli.command));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = format!("obsq: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                msg.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}
