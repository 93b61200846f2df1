-- name: cuj_rate
-- description: Success rate, run counts and average duration of CUJ runs in the window, for one
--   CUJ or (without one) all CUJs together. A run without a duration counts as 0 ms, as in the
--   original metrics-tracker.
-- params: $start, $end (window, both ends inclusive), $cuj (CUJ id or NULL for all),
--   $window_ms, $window_start, $window_end (echoed in the output)
-- section: . object
SELECT
  $cuj AS cuj_id,
  count(*) AS total,
  count(*) FILTER (WHERE success) AS successful,
  count(*) FILTER (WHERE NOT success) AS failed,
  CASE WHEN count(*) = 0 THEN 0.0
       ELSE CAST(count(*) FILTER (WHERE success) AS DOUBLE) / count(*) END AS rate,
  CASE WHEN count(*) = 0 THEN 0.0
       ELSE sum(coalesce(duration_ms, 0)) / count(*) END AS avg_duration_ms,
  $window_ms AS time_window_ms,
  $window_start AS window_start,
  $window_end AS window_end
FROM cuj_runs
WHERE ts BETWEEN $start AND $end
  AND ($cuj IS NULL OR cuj_id = $cuj)
