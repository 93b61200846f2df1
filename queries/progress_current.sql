-- name: progress_current
-- description: The latest progress event of one run (by event time), or null.
-- params: $start, $end (window, both ends inclusive), $run (run id)
-- section: . object json=metadata
SELECT
  CAST(ts AS BIGINT) AS timestamp,
  ts AS iso_timestamp,
  run_id,
  step,
  status,
  percentage,
  message,
  metadata
FROM progress_events
WHERE ts BETWEEN $start AND $end AND run_id = $run
ORDER BY ts DESC, event_id DESC
LIMIT 1
