-- name: progress_runs
-- description: One row per run: its last status, percentage, step and message, first and last
--   event, and whether it is stalled (no event for $stall_ms and not finished; finished =
--   failed, or completed at 100 %).
-- params: $start, $end (window, both ends inclusive), $now_ms, $stall_ms
-- section: . array
WITH runs AS (
  SELECT
    run_id,
    last_value(status ORDER BY ts, event_id) AS status,
    last_value(percentage ORDER BY ts, event_id) AS percentage,
    last_value(step ORDER BY ts, event_id) AS step,
    last_value(message ORDER BY ts, event_id) AS message,
    count(*) AS events,
    min(ts) AS first_event,
    max(ts) AS last_event
  FROM progress_events
  WHERE ts BETWEEN $start AND $end AND run_id IS NOT NULL
  GROUP BY run_id
)
SELECT
  run_id,
  status,
  percentage,
  step,
  message,
  events,
  first_event,
  last_event,
  status = 'failed' OR (status = 'completed' AND percentage >= 100) AS finished,
  NOT (status = 'failed' OR (status = 'completed' AND percentage >= 100))
    AND $now_ms - CAST(last_event AS BIGINT) > $stall_ms AS stalled
FROM runs
ORDER BY first_event, run_id
