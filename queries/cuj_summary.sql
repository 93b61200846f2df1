-- name: cuj_summary
-- description: The dashboard's per-window CUJ summary: CUJs, runs, successes, overall success
--   rate and the run-weighted average duration. No row when the window has no runs.
-- params: $start, $end (window, both ends inclusive)
-- section: . object?
WITH per AS (
  SELECT
    cuj_id,
    count(*) AS total,
    count(*) FILTER (WHERE success) AS successful,
    sum(coalesce(duration_ms, 0)) / count(*) AS avg_duration_ms
  FROM cuj_runs
  WHERE ts BETWEEN $start AND $end
  GROUP BY cuj_id
)
SELECT
  count(*) AS total_cujs,
  sum(total) AS total_executions,
  sum(successful) AS total_successful,
  CAST(sum(successful) AS DOUBLE) / sum(total) AS overall_success_rate,
  sum(avg_duration_ms * total) / sum(total) AS avg_duration_ms
FROM per
HAVING count(*) > 0
