-- name: progress_history
-- description: The latest $limit progress events of one run (or of all runs), oldest first, in
--   the original progress-emitter record shape (epoch-ms timestamp plus iso_timestamp).
--   `progress current RUN` is this report with $limit 1: the run's latest event by time.
-- params: $start, $end (window, both ends inclusive), $run (run id or NULL), $limit (NULL for all)
-- section: . array json=metadata
SELECT
  CAST(ts AS BIGINT) AS timestamp,
  ts AS iso_timestamp,
  run_id,
  step,
  status,
  percentage,
  message,
  metadata
FROM (
  SELECT * FROM progress_events
  WHERE ts BETWEEN $start AND $end
    AND ($run IS NULL OR run_id = $run)
  ORDER BY ts DESC, event_id DESC
  LIMIT $limit
)
ORDER BY ts, event_id
