//! `obsq sql`: one query over the session every command shares.

use crate::cli::SqlArgs;
use crate::config::Config;
use crate::engine::{EngineOptions, run_user_sql, session};
use crate::error::{Error, Result};
use crate::render::{Format, render};

/// Runs `obsq sql`.
pub fn run(config: &Config, args: &SqlArgs) -> Result<u8> {
    let query = match (&args.query, &args.file) {
        (Some(q), _) => q.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::io("read", f, e))?,
        (None, None) => {
            return Err(Error::Usage(
                "give a query, e.g. obsq sql \"SELECT count(*) FROM cuj_runs\", or -f FILE".into(),
            ));
        }
    };
    let rt = super::runtime()?;
    let objects = super::objects(config, &rt)?;
    let opts = EngineOptions {
        fresh: !args.no_fresh,
        ..config.engine()
    };
    let batches = rt.block_on(async {
        let ctx = session(&config.layout, &objects, &opts)?;
        let now = crate::model::timefmt::now_ms();
        crate::reports::table_fn::register(&ctx, now);
        crate::reports::table_fn::register_views(&ctx, now).await?;
        run_user_sql(&ctx, &query).await
    })?;
    let format = args.format.unwrap_or_else(Format::default_for_stdout);
    render(&batches, format, &mut std::io::stdout().lock())?;
    Ok(0)
}
