-- name: skills_query
-- description: Skill invocations matching the filters, newest first (oldest first with
--   $oldest_first), at most $limit, in the original structured-logger record shape.
-- params: $start, $end (window, both ends inclusive), $skill, $agent, $run_id, $cuj_id, $result
--   (exact match, or NULL for any), $oldest_first, $limit (NULL for no limit)
-- section: . array json=metadata
SELECT
  ts AS timestamp,
  'skill_invocation' AS type,
  skill,
  params,
  result,
  duration_ms,
  cache_hit,
  agent,
  run_id,
  cuj_id,
  error,
  metadata
FROM skill_invocations
WHERE ts BETWEEN $start AND $end
  AND ($skill IS NULL OR skill = $skill)
  AND ($agent IS NULL OR agent = $agent)
  AND ($run_id IS NULL OR run_id = $run_id)
  AND ($cuj_id IS NULL OR cuj_id = $cuj_id)
  AND ($result IS NULL OR result = $result)
ORDER BY CASE WHEN $oldest_first THEN ts END, ts DESC, event_id
LIMIT $limit
