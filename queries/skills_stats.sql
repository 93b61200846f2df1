-- name: skills_stats
-- description: Totals of the skill invocations matching the filters (success = result
--   'success', failure = 'failure'; other results are neither), and per skill (with exact
--   nearest-rank p50/p95/p99 durations), per agent and per CUJ, busiest first.
-- params: $start, $end (window, both ends inclusive), $skill, $agent, $run_id, $cuj_id, $result
--   (exact match, or NULL for any), $pct (percentile_disc or approx_percentile_cont)
-- view: s
SELECT ts, skill, agent, cuj_id, result, cache_hit, coalesce(duration_ms, 0) AS duration_ms
FROM skill_invocations
WHERE ts BETWEEN $start AND $end
  AND ($skill IS NULL OR skill = $skill)
  AND ($agent IS NULL OR agent = $agent)
  AND ($run_id IS NULL OR run_id = $run_id)
  AND ($cuj_id IS NULL OR cuj_id = $cuj_id)
  AND ($result IS NULL OR result = $result)
-- section: . merge
SELECT
  count(*) AS total_invocations,
  count(*) FILTER (WHERE result = 'success') AS successful,
  count(*) FILTER (WHERE result = 'failure') AS failed,
  CASE WHEN count(*) = 0 THEN 0.0
       ELSE CAST(count(*) FILTER (WHERE result = 'success') AS DOUBLE) / count(*) END AS success_rate,
  count(*) FILTER (WHERE cache_hit) AS cache_hits,
  CASE WHEN count(*) = 0 THEN 0.0
       ELSE CAST(count(*) FILTER (WHERE cache_hit) AS DOUBLE) / count(*) END AS cache_hit_rate,
  coalesce(sum(duration_ms), 0) AS total_duration_ms,
  CASE WHEN count(*) = 0 THEN 0.0 ELSE sum(duration_ms) / count(*) END AS avg_duration_ms
FROM s
-- section: by_skill map:skill
SELECT
  skill,
  count(*) AS count,
  sum(duration_ms) AS duration_ms,
  count(*) FILTER (WHERE result = 'failure') AS failures,
  count(*) FILTER (WHERE cache_hit) AS cache_hits,
  sum(duration_ms) / count(*) AS avg_duration_ms,
  $pct(duration_ms, 0.5) AS p50,
  $pct(duration_ms, 0.95) AS p95,
  $pct(duration_ms, 0.99) AS p99
FROM s
GROUP BY skill
ORDER BY count DESC, min(ts), skill
-- section: by_agent map:agent
SELECT agent, count(*) AS count, sum(duration_ms) AS duration_ms
FROM s
GROUP BY agent
ORDER BY count DESC, min(ts), agent
-- section: by_cuj map:cuj_id
SELECT cuj_id, count(*) AS count, sum(duration_ms) AS duration_ms
FROM s
WHERE cuj_id IS NOT NULL AND cuj_id <> ''
GROUP BY cuj_id
ORDER BY count DESC, min(ts), cuj_id
