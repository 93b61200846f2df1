-- name: doctor
-- description: Storage health with a suggested action per finding: live files that are missing or
--   not as the commit log records them, small-file debt per (stream, date), quarantined lines,
--   ingest lag per source, schema drift, retired files awaiting deletion.
--   A partition has small-file debt when it holds $min_small or more files under 16 MiB.
-- params: $min_small (small files that make a partition worth compacting)
-- view: parts
SELECT
  stream,
  date,
  count(*) AS files,
  sum(bytes) AS bytes,
  sum(rows) AS rows,
  count(*) FILTER (WHERE bytes < 16777216) AS small_files
FROM system.files
WHERE kind = 'data' AND state = 'live'
GROUP BY stream, date
-- section: checks array
WITH damage AS (
  SELECT count(*) AS files, coalesce(sum(rows), 0) AS rows FROM system.damaged_files
), live AS (
  SELECT count(*) AS files FROM system.files WHERE state = 'live'
), debt AS (
  SELECT count(*) AS partitions, coalesce(sum(small_files), 0) AS files
  FROM parts WHERE small_files >= $min_small
), q AS (
  SELECT coalesce(sum(lines), 0) AS lines, count(DISTINCT source) AS sources FROM system.quarantine_sources
), lag AS (
  SELECT coalesce(sum(lag_bytes), 0) AS bytes, count(*) FILTER (WHERE lag_bytes > 0) AS sources
  FROM system.ingest_lag
), drift AS (
  SELECT count(*) FILTER (WHERE kind = 'unknown_field' AND field <> '*') AS fields,
    count(*) FILTER (WHERE kind = 'unknown_field' AND field = '*') AS more_fields,
    count(*) FILTER (WHERE kind = 'type_mismatch') AS mismatched,
    coalesce(sum(count) FILTER (WHERE kind = 'type_mismatch'), 0) AS mismatched_values
  FROM system.schema_drift
), retired AS (
  SELECT count(*) AS files, coalesce(sum(bytes), 0) AS bytes FROM system.files WHERE state = 'retired'
)
SELECT "check", status, detail, action FROM (
SELECT 0 AS ord, 'data files' AS "check",
  CASE WHEN damage.files > 0 THEN 'error' ELSE 'ok' END AS status,
  CASE WHEN damage.files > 0
    THEN CAST(damage.files AS VARCHAR) || ' of ' || CAST(live.files AS VARCHAR) || ' live files missing or damaged (' || CAST(damage.rows AS VARCHAR) || ' rows)'
    ELSE CAST(live.files AS VARCHAR) || ' live files as the commit log records them' END AS detail,
  CASE WHEN damage.files > 0 THEN 'run: obsq repair (restores their rows from the sources)' ELSE '' END AS action
FROM damage, live
UNION ALL
SELECT 1 AS ord, 'small files' AS "check",
  CASE WHEN debt.partitions > 0 THEN 'warn' ELSE 'ok' END AS status,
  CAST(debt.files AS VARCHAR) || ' small files in ' || CAST(debt.partitions AS VARCHAR) || ' partitions' AS detail,
  CASE WHEN debt.partitions > 0 THEN 'run: obsq compact' ELSE '' END AS action
FROM debt
UNION ALL
SELECT 2, 'quarantine',
  CASE WHEN q.lines > 0 THEN 'warn' ELSE 'ok' END,
  CAST(q.lines AS VARCHAR) || ' lines from ' || CAST(q.sources AS VARCHAR) || ' sources',
  CASE WHEN q.lines > 0
    THEN 'see: obsq sql "SELECT source, line_no, reason FROM system.quarantine"; fix the writer (raw lines are kept in quarantine/)'
    ELSE '' END
FROM q
UNION ALL
SELECT 3, 'ingest lag',
  CASE WHEN lag.bytes > 0 THEN 'warn' ELSE 'ok' END,
  CAST(lag.bytes AS VARCHAR) || ' bytes in ' || CAST(lag.sources AS VARCHAR) || ' sources not ingested',
  CASE WHEN lag.bytes > 0 THEN 'run: obsq ingest (queries already see these events)' ELSE '' END
FROM lag
UNION ALL
SELECT 4, 'schema drift',
  CASE WHEN drift.fields + drift.mismatched > 0 THEN 'warn' ELSE 'ok' END,
  CAST(drift.fields AS VARCHAR) || ' unknown fields seen' ||
    CASE WHEN drift.more_fields > 0 THEN ' and more, counted under field ''*''' ELSE '' END ||
    CASE WHEN drift.mismatched > 0
      THEN ', ' || CAST(drift.mismatched AS VARCHAR) || ' fields with values of an unexpected type (' || CAST(drift.mismatched_values AS VARCHAR) || ' values)'
      ELSE '' END,
  CASE WHEN drift.fields + drift.mismatched > 0
    THEN 'see: obsq sql "SELECT * FROM system.schema_drift"; values are kept in the extra column'
    ELSE '' END
FROM drift
UNION ALL
SELECT 5, 'retired files',
  CASE WHEN retired.files > 0 THEN 'info' ELSE 'ok' END,
  CAST(retired.files AS VARCHAR) || ' replaced files (' || CAST(retired.bytes AS VARCHAR) || ' bytes) awaiting deletion',
  CASE WHEN retired.files > 0 THEN 'deleted by the next obsq compact after their grace period (or: obsq compact --grace 0s)' ELSE '' END
FROM retired
) AS checks
ORDER BY ord
-- section: partitions array
SELECT
  stream,
  date,
  files,
  bytes,
  rows,
  small_files,
  CASE WHEN small_files >= $min_small
    THEN 'obsq compact --stream ' || stream || ' --date ' || date ELSE '' END AS action
FROM parts
ORDER BY stream, date
-- section: lagging_sources array
SELECT path, stream, bytes, ingested_bytes, lag_bytes, 'obsq ingest' AS action
FROM system.ingest_lag
WHERE lag_bytes > 0
ORDER BY lag_bytes DESC, path
-- section: damaged_files array
SELECT path, kind, stream, date, rows, problem, 'obsq repair' AS action
FROM system.damaged_files
ORDER BY path
-- section: quarantine array
SELECT stream, source, sum(lines) AS lines, min(first_line) AS first_line,
  first_value(first_reason ORDER BY first_line) AS first_reason
FROM system.quarantine_sources
GROUP BY stream, source
ORDER BY lines DESC, source
-- section: schema_drift array
SELECT stream, field, seen_type, source, first_seen, kind, line, count
FROM system.schema_drift
ORDER BY stream, field
