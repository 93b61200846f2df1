-- name: cuj_all
-- description: cuj_rate for every CUJ with runs in the window, keyed by CUJ id, in order of
--   first appearance.
-- params: $start, $end (window, both ends inclusive), $window_ms, $window_start, $window_end
-- section: . map:cuj_id
SELECT
  cuj_id,
  count(*) AS total,
  count(*) FILTER (WHERE success) AS successful,
  count(*) FILTER (WHERE NOT success) AS failed,
  CAST(count(*) FILTER (WHERE success) AS DOUBLE) / count(*) AS rate,
  sum(coalesce(duration_ms, 0)) / count(*) AS avg_duration_ms,
  $window_ms AS time_window_ms,
  $window_start AS window_start,
  $window_end AS window_end
FROM cuj_runs
WHERE ts BETWEEN $start AND $end
GROUP BY cuj_id
ORDER BY min(ts), cuj_id
