-- name: cuj_percentiles
-- description: Duration percentiles of one CUJ (or all) in the window: exact nearest-rank
--   (sorted[ceil(p*n)-1]) or approx_percentile_cont with --approx; runs without a duration are
--   left out. p* are 0 when there are no durations.
-- params: $start, $end (window, both ends inclusive), $cuj (CUJ id or NULL),
--   $pct (percentile_disc or approx_percentile_cont)
-- section: . object
SELECT
  $cuj AS cuj_id,
  coalesce($pct(duration_ms, 0.5), 0) AS p50,
  coalesce($pct(duration_ms, 0.75), 0) AS p75,
  coalesce($pct(duration_ms, 0.9), 0) AS p90,
  coalesce($pct(duration_ms, 0.95), 0) AS p95,
  coalesce($pct(duration_ms, 0.99), 0) AS p99,
  min(duration_ms) AS min,
  max(duration_ms) AS max,
  count(duration_ms) AS count
FROM cuj_runs
WHERE ts BETWEEN $start AND $end
  AND ($cuj IS NULL OR cuj_id = $cuj)
