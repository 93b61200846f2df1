-- name: skills_top
-- description: The $top most used skills in the window with average duration, failure rate and
--   cache-hit rate (the dashboard's "<window>_top_skills").
-- params: $start, $end (window, both ends inclusive), $top
-- section: . array
SELECT
  skill,
  count(*) AS count,
  sum(coalesce(duration_ms, 0)) / count(*) AS avg_duration_ms,
  CAST(count(*) FILTER (WHERE result = 'failure') AS DOUBLE) / count(*) AS failure_rate,
  CAST(count(*) FILTER (WHERE cache_hit) AS DOUBLE) / count(*) AS cache_hit_rate
FROM skill_invocations
WHERE ts BETWEEN $start AND $end
GROUP BY skill
ORDER BY count DESC, min(ts), skill
LIMIT $top
