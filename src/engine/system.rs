//! Read-only `system.*` tables: `files`, `sources`, `quarantine` (every rejected line, read from
//! the quarantine files), `quarantine_sources` (lines per file and source), `schema_drift`,
//! `commits` (the commit log), `damaged_files` (live files that are not as recorded) and
//! `ingest_lag` (source files on disk versus their ledger offsets) and `alerts` (the transitions
//! of `obsq alerts check`). Each is computed only when a
//! query scans it, so their size never costs a query that does not name them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::store::catalog::Catalog;
use crate::store::objects::Objects;
use crate::store::{quarantine, repair};

use super::fresh::SourceLag;

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Float,
    Text,
}

type Cols = &'static [(&'static str, Kind)];

/// (table name, catalog query, columns) of the tables read straight from the index.
const INDEX_TABLES: &[(&str, &str, Cols)] = &[
    (
        "files",
        "SELECT kind, stream, date, path, rows, bytes, min_ts, max_ts, state, created_at, seq
         FROM files ORDER BY seq, path",
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
            ("seq", Kind::Int),
        ],
    ),
    (
        "sources",
        "SELECT path, stream, fingerprint, offset, lines, updated_at, seq FROM sources ORDER BY path",
        &[
            ("path", Kind::Text),
            ("stream", Kind::Text),
            ("fingerprint", Kind::Text),
            ("offset", Kind::Int),
            ("lines", Kind::Int),
            ("updated_at", Kind::Text),
            ("seq", Kind::Int),
        ],
    ),
    (
        "quarantine_sources",
        "SELECT q.stream, q.source, q.file, q.lines, q.first_line, q.first_reason
         FROM quarantine q JOIN files f ON f.path = q.file AND f.state = 'live'
         ORDER BY f.seq, q.source",
        &[
            ("stream", Kind::Text),
            ("source", Kind::Text),
            ("file", Kind::Text),
            ("lines", Kind::Int),
            ("first_line", Kind::Int),
            ("first_reason", Kind::Text),
        ],
    ),
    (
        "schema_drift",
        "SELECT stream, field, kind, seen_type, source, line, count, first_seen
         FROM schema_drift ORDER BY stream, field, kind, seen_type",
        &[
            ("stream", Kind::Text),
            ("field", Kind::Text),
            ("kind", Kind::Text),
            ("seen_type", Kind::Text),
            ("source", Kind::Text),
            ("line", Kind::Int),
            ("count", Kind::Int),
            ("first_seen", Kind::Text),
        ],
    ),
    (
        "commits",
        "SELECT seq, commit_id, kind, at, pid, files_added, files_retired, rows_added, bytes_added,
                sources, quarantined, lost_rows
         FROM commits ORDER BY seq",
        &[
            ("seq", Kind::Int),
            ("commit_id", Kind::Text),
            ("kind", Kind::Text),
            ("at", Kind::Text),
            ("pid", Kind::Int),
            ("files_added", Kind::Int),
            ("files_retired", Kind::Int),
            ("rows_added", Kind::Int),
            ("bytes_added", Kind::Int),
            ("sources", Kind::Int),
            ("quarantined", Kind::Int),
            ("lost_rows", Kind::Int),
        ],
    ),
];

const QUARANTINE_COLS: Cols = &[
    ("stream", Kind::Text),
    ("source", Kind::Text),
    ("line_no", Kind::Int),
    ("byte_offset", Kind::Int),
    ("reason", Kind::Text),
    ("raw", Kind::Text),
    ("raw_bytes", Kind::Int),
    ("file", Kind::Text),
    ("at", Kind::Text),
];

const DAMAGE_COLS: Cols = &[
    ("path", Kind::Text),
    ("kind", Kind::Text),
    ("stream", Kind::Text),
    ("date", Kind::Text),
    ("rows", Kind::Int),
    ("problem", Kind::Text),
];

const LAG_COLS: Cols = &[
    ("path", Kind::Text),
    ("stream", Kind::Text),
    ("bytes", Kind::Int),
    ("ingested_bytes", Kind::Int),
    ("lag_bytes", Kind::Int),
];

const ALERT_COLS: Cols = &[
    ("at", Kind::Text),
    ("at_ms", Kind::Int),
    ("kind", Kind::Text),
    ("rule", Kind::Text),
    ("group", Kind::Text),
    ("from_state", Kind::Text),
    ("to_state", Kind::Text),
    ("value", Kind::Float),
    ("threshold", Kind::Float),
    ("events", Kind::Int),
    ("severity", Kind::Text),
];

/// Computes a table's rows when it is scanned.
type Producer = Arc<dyn Fn() -> Result<RecordBatch> + Send + Sync>;

/// A table whose rows are computed at scan time.
struct LazyTable {
    name: &'static str,
    schema: SchemaRef,
    produce: Producer,
}

impl fmt::Debug for LazyTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system.{}", self.name)
    }
}

#[async_trait]
impl TableProvider for LazyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let produce = self.produce.clone();
        let batch = produce().map_err(|e| DataFusionError::External(Box::new(e)))?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

/// The rows of a `system` table, computed now (to ship them to a cluster with the plan);
/// `None` for any other table.
pub fn materialize(table: &dyn TableProvider) -> Option<Result<RecordBatch>> {
    table.downcast_ref::<LazyTable>().map(|t| (t.produce)())
}

/// The ingest lag of every source, for `system.ingest_lag` (read when that table is).
pub type LagSource = Arc<dyn Fn() -> Result<Vec<SourceLag>> + Send + Sync>;

/// Where the system tables read from.
pub struct SystemSources {
    /// The catalog index file (none before the first commit).
    pub catalog: Option<PathBuf>,
    /// The data root's objects.
    pub objects: Objects,
    /// Ingest lag per source: computed already with the fresh tail, or on demand.
    pub lag: LagSource,
    /// `damaged_files` reads every data file's footer too.
    pub deep: bool,
}

/// Registers the `system` schema.
pub fn register(ctx: &SessionContext, src: SystemSources) -> Result<()> {
    let schema = Arc::new(MemorySchemaProvider::new());
    let add = |name: &'static str, cols: Cols, produce: Producer| -> Result<()> {
        let table = LazyTable {
            name,
            schema: schema_of(cols),
            produce,
        };
        datafusion::catalog::SchemaProvider::register_table(
            schema.as_ref(),
            name.to_string(),
            Arc::new(table),
        )?;
        Ok(())
    };
    for (name, sql, cols) in INDEX_TABLES {
        let path = src.catalog.clone();
        add(
            name,
            cols,
            Arc::new(move || match &path {
                Some(p) => {
                    let conn = Catalog::open_raw(p)?;
                    query(&conn, sql, cols).map_err(|source| Error::Catalog {
                        action: "read system table",
                        path: p.clone(),
                        source,
                    })
                }
                None => Ok(RecordBatch::new_empty(schema_of(cols))),
            }),
        )?;
    }
    let (path, objects) = (src.catalog.clone(), src.objects.clone());
    add(
        "quarantine",
        QUARANTINE_COLS,
        Arc::new(move || quarantine_lines(path.as_ref(), &objects)),
    )?;
    let (path, objects) = (src.catalog.clone(), src.objects.clone());
    add(
        "damaged_files",
        DAMAGE_COLS,
        Arc::new(move || damaged(path.as_ref(), &objects, src.deep)),
    )?;
    let objects = src.objects.clone();
    add("alerts", ALERT_COLS, Arc::new(move || alerts(&objects)))?;
    let lag = src.lag;
    add("ingest_lag", LAG_COLS, Arc::new(move || lag_table(&lag()?)))?;
    if let Some(cat) = ctx.catalog("datafusion") {
        cat.register_schema("system", schema)?;
    }
    Ok(())
}

fn quarantine_lines(catalog: Option<&PathBuf>, objects: &Objects) -> Result<RecordBatch> {
    let Some(path) = catalog else {
        return Ok(RecordBatch::new_empty(schema_of(QUARANTINE_COLS)));
    };
    let cat = Catalog::open(path)?;
    let files: Vec<(String, String, String)> = {
        let mut stmt = cat
            .connection()
            .prepare(
                "SELECT path, stream, created_at FROM files
                 WHERE kind = 'quarantine' AND state = 'live' ORDER BY seq, path",
            )
            .map_err(|source| Error::Catalog {
                action: "read quarantine files",
                path: path.clone(),
                source,
            })?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(|source| Error::Catalog {
                action: "read quarantine files",
                path: path.clone(),
                source,
            })?
    };
    let mut b: Vec<Builder> = QUARANTINE_COLS
        .iter()
        .map(|(_, k)| Builder::new(*k))
        .collect();
    for (file, stream, at) in files {
        for q in quarantine::read_lines(objects, &file)? {
            b[0].text(Some(&stream));
            b[1].text(Some(&q.source));
            b[2].int(Some(q.line_no as i64));
            b[3].int(Some(q.byte_offset as i64));
            b[4].text(Some(&q.reason));
            b[5].text(Some(&q.raw));
            b[6].int(Some(q.raw_bytes as i64));
            b[7].text(Some(&file));
            b[8].text(Some(&at));
        }
    }
    finish(QUARANTINE_COLS, b)
}

fn damaged(catalog: Option<&PathBuf>, objects: &Objects, deep: bool) -> Result<RecordBatch> {
    let Some(path) = catalog else {
        return Ok(RecordBatch::new_empty(schema_of(DAMAGE_COLS)));
    };
    let cat = Catalog::open(path)?;
    let mut b: Vec<Builder> = DAMAGE_COLS.iter().map(|(_, k)| Builder::new(*k)).collect();
    for d in repair::check(objects, &cat, deep)? {
        b[0].text(Some(&d.path));
        b[1].text(Some(&d.kind));
        b[2].text(Some(&d.stream));
        b[3].text(d.date.as_deref());
        b[4].int(Some(d.rows as i64));
        b[5].text(Some(&d.problem));
    }
    finish(DAMAGE_COLS, b)
}

fn alerts(objects: &Objects) -> Result<RecordBatch> {
    let mut b: Vec<Builder> = ALERT_COLS.iter().map(|(_, k)| Builder::new(*k)).collect();
    for t in crate::monitor::state::history(objects)? {
        b[0].text(Some(&crate::model::timefmt::iso_ms(t.at)));
        b[1].int(Some(t.at));
        b[2].text(Some(&t.kind));
        b[3].text(Some(&t.rule));
        b[4].text(Some(&t.group));
        b[5].text(Some(t.from.name()));
        b[6].text(Some(t.to.name()));
        b[7].float(t.value);
        b[8].float(Some(t.threshold));
        b[9].int(Some(i64::try_from(t.events).unwrap_or(i64::MAX)));
        b[10].text(Some(&t.severity));
    }
    finish(ALERT_COLS, b)
}

fn lag_table(lag: &[SourceLag]) -> Result<RecordBatch> {
    let mut b: Vec<Builder> = LAG_COLS.iter().map(|(_, k)| Builder::new(*k)).collect();
    let int = |v: u64| Some(i64::try_from(v).unwrap_or(i64::MAX));
    for l in lag {
        b[0].text(Some(&l.path));
        b[1].text(Some(l.stream.table()));
        b[2].int(int(l.bytes));
        b[3].int(int(l.ingested));
        b[4].int(int(l.bytes - l.ingested));
    }
    finish(LAG_COLS, b)
}

enum Builder {
    I(Int64Builder),
    F(Float64Builder),
    S(StringBuilder),
}

impl Builder {
    fn new(k: Kind) -> Self {
        match k {
            Kind::Int => Builder::I(Int64Builder::new()),
            Kind::Float => Builder::F(Float64Builder::new()),
            Kind::Text => Builder::S(StringBuilder::new()),
        }
    }

    fn int(&mut self, v: Option<i64>) {
        if let Builder::I(b) = self {
            b.append_option(v);
        }
    }

    fn float(&mut self, v: Option<f64>) {
        if let Builder::F(b) = self {
            b.append_option(v);
        }
    }

    fn text(&mut self, v: Option<&str>) {
        if let Builder::S(b) = self {
            b.append_option(v);
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::I(mut b) => Arc::new(b.finish()),
            Builder::F(mut b) => Arc::new(b.finish()),
            Builder::S(mut b) => Arc::new(b.finish()),
        }
    }
}

fn finish(cols: Cols, builders: Vec<Builder>) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
    RecordBatch::try_new(schema_of(cols), arrays)
        .map_err(|e| Error::arrow("building a system table", e))
}

fn schema_of(cols: Cols) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|(n, k)| {
                let dt = match k {
                    Kind::Int => DataType::Int64,
                    Kind::Float => DataType::Float64,
                    Kind::Text => DataType::Utf8,
                };
                Field::new(*n, dt, true)
            })
            .collect::<Vec<_>>(),
    ))
}

fn query(conn: &Connection, sql: &str, cols: Cols) -> rusqlite::Result<RecordBatch> {
    let mut builders: Vec<Builder> = cols.iter().map(|(_, k)| Builder::new(*k)).collect();
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        for (i, b) in builders.iter_mut().enumerate() {
            match b {
                Builder::I(b) => b.append_option(row.get::<_, Option<i64>>(i)?),
                Builder::F(b) => b.append_option(row.get::<_, Option<f64>>(i)?),
                Builder::S(b) => b.append_option(row.get::<_, Option<String>>(i)?),
            }
        }
    }
    // Types follow `cols`, so this cannot fail.
    Ok(finish(cols, builders).expect("system table columns match"))
}
