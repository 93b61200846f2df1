-- name: cuj_failures
-- description: Failure analysis of one CUJ (or all): failures grouped by exact message and by
--   error_pattern (count, share, example, first/last seen, CUJs affected), and the most recent
--   failures, newest last. A missing or empty message reads "Unknown error".
-- params: $start, $end (window, both ends inclusive), $cuj (CUJ id or NULL), $top (groups shown)
-- view: f hold
SELECT
  ts,
  cuj_id,
  duration_ms,
  error AS raw_error,
  coalesce(nullif(error, ''), 'Unknown error') AS error,
  coalesce(nullif(error_pattern, ''), 'Unknown error') AS pattern
FROM cuj_runs
WHERE NOT success
  AND ts BETWEEN $start AND $end
  AND ($cuj IS NULL OR cuj_id = $cuj)
-- section: . merge
SELECT
  $cuj AS cuj_id,
  count(*) AS total_failures,
  count(DISTINCT error) AS unique_errors,
  count(DISTINCT pattern) AS unique_patterns
FROM f
-- section: top_errors array
SELECT
  error,
  count(*) AS count,
  CAST(count(*) AS DOUBLE) / (SELECT count(*) FROM f) AS share,
  min(ts) AS first_seen,
  max(ts) AS last_seen
FROM f
GROUP BY error
ORDER BY count DESC, first_seen, error
LIMIT $top
-- section: top_patterns array
WITH per_cuj AS (
  SELECT pattern, cuj_id, count(*) AS n FROM f GROUP BY pattern, cuj_id
)
SELECT
  g.pattern,
  g.count,
  CAST(g.count AS DOUBLE) / (SELECT count(*) FROM f) AS share,
  g.example,
  g.first_seen,
  g.last_seen,
  c.cujs
FROM (
  SELECT
    pattern,
    count(*) AS count,
    first_value(error ORDER BY ts) AS example,
    min(ts) AS first_seen,
    max(ts) AS last_seen
  FROM f
  GROUP BY pattern
) AS g
JOIN (
  SELECT pattern, array_agg(cuj_id ORDER BY n DESC, cuj_id) AS cujs FROM per_cuj GROUP BY pattern
) AS c ON c.pattern = g.pattern
ORDER BY g.count DESC, g.first_seen, g.pattern
LIMIT $top
-- section: recent_failures array
SELECT timestamp, error, duration_ms, cuj_id
FROM (
  SELECT ts AS timestamp, raw_error AS error, duration_ms, cuj_id
  FROM f
  ORDER BY ts DESC
  LIMIT 5
)
ORDER BY timestamp
