//! Read-only `system.*` tables over the catalog: `system.files`, `system.sources`,
//! `system.quarantine`, `system.schema_drift`, and `system.ingest_lag` (source files on disk versus
//! their ledger offsets).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::store::catalog::Catalog;

use super::fresh::SourceLag;

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
}

/// (table name, catalog query, columns).
type SystemTable = (&'static str, &'static str, &'static [(&'static str, Kind)]);

const TABLES: &[SystemTable] = &[
    (
        "files",
        "SELECT kind, stream, date, path, rows, bytes, min_ts, max_ts, state, created_at FROM files ORDER BY id",
        &[
            ("kind", Kind::Text),
            ("stream", Kind::Text),
            ("date", Kind::Text),
            ("path", Kind::Text),
            ("rows", Kind::Int),
            ("bytes", Kind::Int),
            ("min_ts", Kind::Int),
            ("max_ts", Kind::Int),
            ("state", Kind::Text),
            ("created_at", Kind::Text),
        ],
    ),
    (
        "sources",
        "SELECT path, stream, fingerprint, offset, lines, updated_at FROM sources ORDER BY path",
        &[
            ("path", Kind::Text),
            ("stream", Kind::Text),
            ("fingerprint", Kind::Text),
            ("offset", Kind::Int),
            ("lines", Kind::Int),
            ("updated_at", Kind::Text),
        ],
    ),
    (
        "quarantine",
        "SELECT stream, source, line_no, byte_offset, reason, file, at FROM quarantine ORDER BY id",
        &[
            ("stream", Kind::Text),
            ("source", Kind::Text),
            ("line_no", Kind::Int),
            ("byte_offset", Kind::Int),
            ("reason", Kind::Text),
            ("file", Kind::Text),
            ("at", Kind::Text),
        ],
    ),
    (
        "schema_drift",
        "SELECT stream, field, seen_type, source, first_seen FROM schema_drift ORDER BY stream, field",
        &[
            ("stream", Kind::Text),
            ("field", Kind::Text),
            ("seen_type", Kind::Text),
            ("source", Kind::Text),
            ("first_seen", Kind::Text),
        ],
    ),
];

/// Registers the `system` schema (empty tables when there is no catalog yet).
pub fn register(ctx: &SessionContext, catalog: Option<&Catalog>, lag: &[SourceLag]) -> Result<()> {
    let schema = Arc::new(MemorySchemaProvider::new());
    for (name, sql, cols) in TABLES {
        let batch = match catalog {
            Some(c) => query(c.connection(), sql, cols).map_err(|source| Error::Catalog {
                action: "read system table",
                path: name.into(),
                source,
            })?,
            None => RecordBatch::new_empty(schema_of(cols)),
        };
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        datafusion::catalog::SchemaProvider::register_table(
            schema.as_ref(),
            name.to_string(),
            Arc::new(table),
        )?;
    }
    let lag = lag_table(lag)?;
    datafusion::catalog::SchemaProvider::register_table(
        schema.as_ref(),
        "ingest_lag".into(),
        Arc::new(MemTable::try_new(lag.schema(), vec![vec![lag]])?),
    )?;
    if let Some(cat) = ctx.catalog("datafusion") {
        cat.register_schema("system", schema)?;
    }
    Ok(())
}

fn lag_table(lag: &[SourceLag]) -> Result<RecordBatch> {
    let int = |f: fn(&SourceLag) -> u64| -> ArrayRef {
        Arc::new(arrow::array::Int64Array::from_iter_values(
            lag.iter().map(|l| i64::try_from(f(l)).unwrap_or(i64::MAX)),
        ))
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(arrow::array::StringArray::from_iter_values(
            lag.iter().map(|l| l.path.as_str()),
        )),
        Arc::new(arrow::array::StringArray::from_iter_values(
            lag.iter().map(|l| l.stream.table()),
        )),
        int(|l| l.bytes),
        int(|l| l.ingested),
        int(|l| l.bytes - l.ingested),
    ];
    let schema = schema_of(&[
        ("path", Kind::Text),
        ("stream", Kind::Text),
        ("bytes", Kind::Int),
        ("ingested_bytes", Kind::Int),
        ("lag_bytes", Kind::Int),
    ]);
    RecordBatch::try_new(schema, cols).map_err(|e| Error::arrow("building system.ingest_lag", e))
}

fn schema_of(cols: &[(&str, Kind)]) -> Arc<Schema> {
    Arc::new(Schema::new(
        cols.iter()
            .map(|(n, k)| {
                let dt = match k {
                    Kind::Int => DataType::Int64,
                    Kind::Text => DataType::Utf8,
                };
                Field::new(*n, dt, true)
            })
            .collect::<Vec<_>>(),
    ))
}

fn query(conn: &Connection, sql: &str, cols: &[(&str, Kind)]) -> rusqlite::Result<RecordBatch> {
    enum B {
        I(Int64Builder),
        S(StringBuilder),
    }
    let mut builders: Vec<B> = cols
        .iter()
        .map(|(_, k)| match k {
            Kind::Int => B::I(Int64Builder::new()),
            Kind::Text => B::S(StringBuilder::new()),
        })
        .collect();
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        for (i, b) in builders.iter_mut().enumerate() {
            match b {
                B::I(b) => b.append_option(row.get::<_, Option<i64>>(i)?),
                B::S(b) => b.append_option(row.get::<_, Option<String>>(i)?),
            }
        }
    }
    let arrays: Vec<ArrayRef> = builders
        .into_iter()
        .map(|b| -> ArrayRef {
            match b {
                B::I(mut b) => Arc::new(b.finish()),
                B::S(mut b) => Arc::new(b.finish()),
            }
        })
        .collect();
    // Types follow `cols`, so this cannot fail.
    Ok(RecordBatch::try_new(schema_of(cols), arrays).expect("system table columns match"))
}
