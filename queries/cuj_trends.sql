-- name: cuj_trends
-- description: Success rate of the $top busiest CUJs in $buckets half-open intervals
--   [now-(i+1)*size, now-i*size), oldest first; rate is null for a bucket without runs (the
--   dashboard's trend chart).
-- params: $now, $now_ms, $trend_start (= now - buckets*size), $bucket_ms, $buckets, $top
-- section: . array
WITH runs AS (
  SELECT cuj_id, ($now_ms - CAST(ts AS BIGINT) - 1) / $bucket_ms AS i, success
  FROM cuj_runs
  WHERE ts >= $trend_start AND ts < $now
), busiest AS (
  SELECT cuj_id FROM runs GROUP BY cuj_id ORDER BY count(*) DESC, cuj_id LIMIT $top
), hits AS (
  SELECT cuj_id, i, count(*) AS total, count(*) FILTER (WHERE success) AS successful
  FROM runs
  WHERE cuj_id IN (SELECT cuj_id FROM busiest)
  GROUP BY cuj_id, i
)
SELECT
  t.cuj_id,
  to_timestamp_millis($now_ms - (b.value + 1) * $bucket_ms) AS bucket_start,
  to_timestamp_millis($now_ms - b.value * $bucket_ms) AS bucket_end,
  coalesce(h.total, 0) AS total,
  coalesce(h.successful, 0) AS successful,
  CAST(h.successful AS DOUBLE) / h.total AS rate
FROM busiest AS t
CROSS JOIN range(0, $buckets) AS b
LEFT JOIN hits AS h ON h.cuj_id = t.cuj_id AND h.i = b.value
ORDER BY t.cuj_id, b.value DESC
