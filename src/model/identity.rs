//! `event_id`: the 128-bit identity of an event, the xxh3-128 hash of its stream and every stored
//! value (all columns but `error_pattern`, which is derived from `error`). Identical events (the
//! same line read twice) get the same id.
//!
//! The id is derived, never stored: it is a function of the stored columns, and as a column of
//! random hex it was half the bytes of every data file. Queries that name `event_id` compute it
//! from the scanned columns (see `engine::table`); compaction computes it to drop duplicates.
//! Files written before this change still carry the column; it is ignored and recomputed to the
//! same value.

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, StringViewArray,
    TimestampMillisecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMillisecondType};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use xxhash_rust::xxh3::xxh3_128;

use super::schema::{Col, Stream};

/// The columns an event's id is computed from, in hashing order (`ts` first).
pub fn id_inputs(stream: Stream) -> impl Iterator<Item = Col> {
    stream.stored_columns().filter(|&c| c != Col::ErrorPattern)
}

/// The [`id_inputs`] columns of `batch`, found by name.
pub fn id_input_arrays(stream: Stream, batch: &RecordBatch) -> Result<Vec<ArrayRef>, ArrowError> {
    id_inputs(stream)
        .map(|c| {
            batch.column_by_name(c.name()).cloned().ok_or_else(|| {
                ArrowError::SchemaError(format!("{stream} batch lacks column {}", c.name()))
            })
        })
        .collect()
}

enum Input<'a> {
    Ts(&'a TimestampMillisecondArray),
    Str(StringArray),
    /// Text as queries read it (views), hashed without a copy.
    View(StringViewArray),
    F64(&'a Float64Array),
    I64(&'a Int64Array),
    Bool(&'a BooleanArray),
}

/// The ids of every row, from the [`id_inputs`] arrays (in that order).
pub fn event_hashes(stream: Stream, inputs: &[ArrayRef]) -> Result<Vec<u128>, ArrowError> {
    let cols: Vec<Col> = id_inputs(stream).collect();
    if cols.len() != inputs.len() {
        return Err(ArrowError::InvalidArgumentError(format!(
            "event_id of {stream} takes {} columns, got {}",
            cols.len(),
            inputs.len()
        )));
    }
    let typed: Vec<Input<'_>> = cols
        .iter()
        .zip(inputs)
        .map(|(&c, a)| {
            Ok(match c.data_type() {
                DataType::Float64 => {
                    Input::F64(a.as_primitive_opt::<Float64Type>().ok_or_else(|| {
                        ArrowError::CastError(format!("{} is not Float64", c.name()))
                    })?)
                }
                DataType::Int64 => {
                    Input::I64(a.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                        ArrowError::CastError(format!("{} is not Int64", c.name()))
                    })?)
                }
                DataType::Boolean => Input::Bool(a.as_boolean_opt().ok_or_else(|| {
                    ArrowError::CastError(format!("{} is not Boolean", c.name()))
                })?),
                DataType::Utf8 if a.data_type() == &DataType::Utf8View => {
                    Input::View(a.as_string_view().clone())
                }
                DataType::Utf8 => Input::Str(cast(a, &DataType::Utf8)?.as_string::<i32>().clone()),
                _ => Input::Ts(
                    a.as_primitive_opt::<TimestampMillisecondType>()
                        .ok_or_else(|| {
                            ArrowError::CastError(format!("{} is not a timestamp", c.name()))
                        })?,
                ),
            })
        })
        .collect::<Result<_, ArrowError>>()?;
    let rows = inputs.first().map_or(0, |a| a.len());
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        buf.clear();
        buf.push(stream as u8);
        for input in &typed {
            match input {
                // `ts` is never null and is hashed without a presence tag.
                Input::Ts(a) => buf.extend_from_slice(&a.value(r).to_le_bytes()),
                Input::Str(a) => put(&mut buf, a.is_valid(r).then(|| a.value(r).as_bytes())),
                Input::View(a) => put(&mut buf, a.is_valid(r).then(|| a.value(r).as_bytes())),
                Input::F64(a) => {
                    let v = a.is_valid(r).then(|| a.value(r).to_bits().to_le_bytes());
                    put(&mut buf, v.as_ref().map(|b| &b[..]))
                }
                Input::I64(a) => {
                    let v = a.is_valid(r).then(|| a.value(r).to_le_bytes());
                    put(&mut buf, v.as_ref().map(|b| &b[..]))
                }
                Input::Bool(a) => put(
                    &mut buf,
                    a.is_valid(r)
                        .then(|| if a.value(r) { &b"t"[..] } else { &b"f"[..] }),
                ),
            }
        }
        out.push(xxh3_128(&buf));
    }
    Ok(out)
}

/// The ids of every row as lower-case hex, the `event_id` column.
pub fn event_id_column(stream: Stream, inputs: &[ArrayRef]) -> Result<StringArray, ArrowError> {
    let hashes = event_hashes(stream, inputs)?;
    let mut values = Vec::with_capacity(hashes.len() * 32);
    let mut offsets = Vec::with_capacity(hashes.len() + 1);
    offsets.push(0i32);
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for h in hashes {
        // Lower-case hex, most significant digit first, written in place (no string per row).
        values.extend(
            (0..32)
                .rev()
                .map(|i| DIGITS[((h >> (4 * i)) & 0xf) as usize]),
        );
        offsets.push(values.len() as i32);
    }
    StringArray::try_new(
        arrow::buffer::OffsetBuffer::new(offsets.into()),
        values.into(),
        None,
    )
}

fn put(h: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => h.push(0),
        Some(b) => {
            h.push(1);
            h.extend_from_slice(&(b.len() as u64).to_le_bytes());
            h.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::batch::DayBatches;
    use crate::model::parse_line;

    fn ids(stream: Stream, lines: &[&str]) -> Vec<String> {
        let mut days = DayBatches::new(stream);
        for l in lines {
            days.append(&parse_line(stream, l.as_bytes()).unwrap());
        }
        let (_, batch) = days.finish().0.remove(0);
        let inputs = id_input_arrays(stream, &batch).unwrap();
        let col = event_id_column(stream, &inputs).unwrap();
        col.iter().map(|v| v.unwrap().to_string()).collect()
    }

    #[test]
    fn ids_are_stable_across_versions_and_equal_for_identical_events() {
        // Golden values: the ids obsq stored in data files before the column became derived.
        let cuj = r#"{"timestamp":"2026-11-27T23:59:59.999Z","cuj_id":"C","success":false,"error":"Timeout after 30000ms"}"#;
        let skill = r#"{"timestamp":"2026-11-27T10:00:00.000Z","skill":"s","agent":"a","result":"success","duration_ms":12.5,"cache_hit":true,"params":{"b":1,"a":"x"},"metadata":{"k":"v"},"zz":3}"#;
        let got = ids(Stream::Cuj, &[cuj, cuj]);
        assert_eq!(got[0], "3ade90c83a447f85a424491b681b2d67");
        assert_eq!(got[0], got[1]);
        assert_eq!(
            ids(Stream::Skill, &[skill]),
            ["575349d3035700c7442dcfbbc99ca1f1"]
        );
    }

    #[test]
    fn text_read_as_views_gives_the_same_ids() {
        let skill = r#"{"timestamp":"2026-11-27T10:00:00.000Z","skill":"s","agent":"a","result":"success","error":null,"params":{"b":1,"a":"x"},"metadata":{"k":"v"}}"#;
        let other = r#"{"timestamp":"2026-11-27T10:00:01.000Z","skill":"a-much-longer-skill-name","result":"failure","error":"boom"}"#;
        let mut days = DayBatches::new(Stream::Skill);
        for l in [skill, other] {
            days.append(&parse_line(Stream::Skill, l.as_bytes()).unwrap());
        }
        let (_, batch) = days.finish().0.remove(0);
        let inputs = id_input_arrays(Stream::Skill, &batch).unwrap();
        let views: Vec<ArrayRef> = inputs
            .iter()
            .map(|a| match a.data_type() {
                DataType::Utf8 => cast(a, &DataType::Utf8View).unwrap(),
                _ => a.clone(),
            })
            .collect();
        assert!(views.iter().any(|a| a.data_type() == &DataType::Utf8View));
        assert_eq!(
            event_id_column(Stream::Skill, &inputs).unwrap(),
            event_id_column(Stream::Skill, &views).unwrap()
        );
    }

    #[test]
    fn any_value_changes_the_id() {
        let a = r#"{"timestamp":"2026-11-27T10:00:00Z","run_id":"r","step":1,"status":"running","percentage":10,"message":"m"}"#;
        let b = r#"{"timestamp":"2026-11-27T10:00:00Z","run_id":"r","step":2,"status":"running","percentage":10,"message":"m"}"#;
        let c = r#"{"timestamp":"2026-11-27T10:00:00Z","run_id":"r","status":"running","percentage":10,"message":"m"}"#;
        let got = ids(Stream::Progress, &[a, b, c]);
        assert_ne!(got[0], got[1]);
        assert_ne!(got[0], got[2]);
        assert_ne!(got[1], got[2]);
    }
}
