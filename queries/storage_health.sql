-- name: storage_health
-- description: Storage health per stream: live Parquet files and their bytes and rows, small
--   files (< 16 MiB), quarantined lines, and the ingest lag (JSONL bytes not yet ingested).
-- params: none
-- section: . array
WITH streams AS (
  SELECT * FROM (VALUES ('skill_invocations'), ('cuj_runs'), ('progress_events'), ('provider_calls')) AS t(stream)
), f AS (
  SELECT
    stream,
    count(*) AS files,
    sum(bytes) AS bytes,
    sum(rows) AS rows,
    count(*) FILTER (WHERE bytes < 16777216) AS small_files,
    to_timestamp_millis(max(max_ts)) AS newest_event
  FROM system.files
  WHERE kind = 'data' AND state = 'live'
  GROUP BY stream
), q AS (
  SELECT stream, sum(lines) AS quarantined FROM system.quarantine_sources GROUP BY stream
), l AS (
  SELECT stream, sum(lag_bytes) AS lag_bytes, count(*) FILTER (WHERE lag_bytes > 0) AS lagging_sources
  FROM system.ingest_lag
  GROUP BY stream
)
SELECT
  s.stream,
  coalesce(f.files, 0) AS files,
  coalesce(f.bytes, 0) AS bytes,
  coalesce(f.rows, 0) AS rows,
  coalesce(f.small_files, 0) AS small_files,
  coalesce(q.quarantined, 0) AS quarantined,
  coalesce(l.lag_bytes, 0) AS lag_bytes,
  coalesce(l.lagging_sources, 0) AS lagging_sources,
  f.newest_event
FROM streams AS s
LEFT JOIN f ON f.stream = s.stream
LEFT JOIN q ON q.stream = s.stream
LEFT JOIN l ON l.stream = s.stream
ORDER BY s.stream
