-- name: cuj_highlights
-- description: The dashboard's highlights over the window: fastest and slowest CUJ by average
--   duration, most and least reliable by success rate (ties go to the CUJ seen first); null
--   when there are no runs.
-- params: $start, $end (window, both ends inclusive)
-- view: per
SELECT
  cuj_id,
  min(ts) AS first_seen,
  sum(coalesce(duration_ms, 0)) / count(*) AS avg_duration_ms,
  CAST(count(*) FILTER (WHERE success) AS DOUBLE) / count(*) AS success_rate
FROM cuj_runs
WHERE ts BETWEEN $start AND $end
GROUP BY cuj_id
-- section: fastest_cuj object
SELECT cuj_id, avg_duration_ms FROM per ORDER BY avg_duration_ms, first_seen LIMIT 1
-- section: slowest_cuj object
SELECT cuj_id, avg_duration_ms FROM per ORDER BY avg_duration_ms DESC, first_seen LIMIT 1
-- section: most_reliable_cuj object
SELECT cuj_id, success_rate FROM per ORDER BY success_rate DESC, first_seen LIMIT 1
-- section: least_reliable_cuj object
SELECT cuj_id, success_rate FROM per ORDER BY success_rate, first_seen LIMIT 1
