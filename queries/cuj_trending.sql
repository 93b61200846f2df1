-- name: cuj_trending
-- description: Success rate of one CUJ (or all) in $buckets half-open intervals
--   [now-(i+1)*size, now-i*size), oldest first. A run at exactly `now` is in no bucket.
-- params: $now, $now_ms, $trend_start (= now - buckets*size), $bucket_ms, $buckets,
--   $cuj (CUJ id or NULL for all)
-- section: . array
WITH hits AS (
  SELECT
    ($now_ms - CAST(ts AS BIGINT) - 1) / $bucket_ms AS i,
    count(*) AS total,
    count(*) FILTER (WHERE success) AS successful
  FROM cuj_runs
  WHERE ts >= $trend_start AND ts < $now
    AND ($cuj IS NULL OR cuj_id = $cuj)
  GROUP BY 1
)
SELECT
  to_timestamp_millis($now_ms - (b.value + 1) * $bucket_ms) AS bucket_start,
  to_timestamp_millis($now_ms - b.value * $bucket_ms) AS bucket_end,
  coalesce(h.total, 0) AS total,
  coalesce(h.successful, 0) AS successful,
  coalesce(h.total - h.successful, 0) AS failed,
  CASE WHEN h.total IS NULL THEN 0.0
       ELSE CAST(h.successful AS DOUBLE) / h.total END AS rate
FROM range(0, $buckets) AS b
LEFT JOIN hits AS h ON h.i = b.value
ORDER BY b.value DESC
