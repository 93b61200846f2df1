//! `obsq generate`.

use crate::cli::GenerateArgs;
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, SHAPES, Shape, generate};
use crate::model::Stream;
use crate::model::timefmt::{now_ms, parse_day};
use crate::render::{Format, render, rows_to_batch};

/// Runs `obsq generate`; the summary goes to stderr.
pub fn run(args: &GenerateArgs) -> Result<u8> {
    let opts = options(args)?;
    let report = generate(&opts)?;
    let rows: Vec<_> = report
        .streams
        .iter()
        .map(|(s, lines, dirty, bytes)| {
            vec![
                s.table().into(),
                (*lines).into(),
                (*dirty).into(),
                (*bytes).into(),
            ]
        })
        .collect();
    let batch = rows_to_batch(&["stream", "lines", "malformed", "bytes"], &rows)?;
    render(&[batch], Format::Table, &mut std::io::stderr().lock())?;
    Ok(0)
}

/// Validates the arguments into generator options.
pub fn options(args: &GenerateArgs) -> Result<GenerateOptions> {
    // A given day is covered whole; by default the span ends now (no events from the future).
    let end_ms = match &args.end {
        Some(d) => {
            let day = parse_day(d).ok_or_else(|| {
                Error::Usage(format!("--end {d:?} is not a date like 2026-11-28"))
            })?;
            (day as i64 + 1) * 86_400_000
        }
        None => now_ms() - 200,
    };
    if !(0.0..=1.0).contains(&args.dirty) {
        return Err(Error::Usage(format!(
            "--dirty {} must be between 0 and 1",
            args.dirty
        )));
    }
    let streams = if args.streams.is_empty() {
        Stream::ALL.to_vec()
    } else {
        args.streams
            .iter()
            .map(|s| {
                Stream::from_name(s).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown stream {s:?}: use skill, cuj, progress or provider"
                    ))
                })
            })
            .collect::<Result<_>>()?
    };
    Ok(GenerateOptions {
        rows: args.rows,
        seed: args.seed,
        out: args.out.clone(),
        days: args.days,
        end_ms,
        dirty: args.dirty,
        streams,
        shape: shape(args)?,
    })
}

/// `--shape` with the knobs given on top of it.
fn shape(args: &GenerateArgs) -> Result<Shape> {
    let mut shape = Shape::named(&args.shape).ok_or_else(|| {
        Error::Usage(format!(
            "unknown --shape {:?}: use one of {}",
            args.shape,
            SHAPES.join(", ")
        ))
    })?;
    if let Some(j) = args.json {
        shape.json = j;
    }
    if let Some(c) = args.cardinality {
        shape.cardinality = c;
    }
    for (flag, v, field) in [
        ("--long-text", args.long_text, &mut shape.long_text),
        ("--absent", args.absent, &mut shape.absent),
    ] {
        if let Some(v) = v {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::Usage(format!("{flag} {v} must be between 0 and 1")));
            }
            *field = v;
        }
    }
    shape.named_steps |= args.named_steps;
    shape.bare |= args.bare;
    shape.merged |= args.merged;
    shape.python |= args.python;
    Ok(shape)
}
