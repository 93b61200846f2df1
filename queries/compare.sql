-- name: compare
-- description: Period over period: the window [now − w, now] against the one before it,
--   [now − 2w, now − w), per group: events, success rates with Wilson 95 % intervals, the change
--   with the two-sided p-value of a pooled two-proportion z-test (`significant`: p < 0.05 and at
--   least $min_events judged events in each window), exact p50/p95 durations (latency for
--   providers) in both windows and their change; and the error patterns seen in the current
--   window but not in the previous one. Skills count `success` and `failure` results only.
-- params: $start, $end (current window, both ends inclusive), $prev_start, $prev_end (previous
--   window), $stream (cuj, skill or provider), $by (cuj_id, skill, agent, provider, model, or
--   NULL: one group `all`), $min_events
-- view: ev
SELECT
  coalesce(CASE $by
    WHEN 'cuj_id' THEN cuj_id
    WHEN 'skill' THEN skill
    WHEN 'agent' THEN agent
    WHEN 'provider' THEN provider
    WHEN 'model' THEN model
    ELSE 'all'
  END, '(none)') AS grp,
  ts,
  ts >= $start AS cur,
  ok,
  judged,
  ms,
  CASE WHEN judged AND NOT ok THEN coalesce(nullif(pattern, ''), 'Unknown error') END AS pattern,
  error
FROM (
  SELECT ts, CAST(cuj_id AS VARCHAR) AS cuj_id, CAST(NULL AS VARCHAR) AS skill,
    CAST(NULL AS VARCHAR) AS agent, CAST(NULL AS VARCHAR) AS provider,
    CAST(NULL AS VARCHAR) AS model, success AS ok, true AS judged,
    CAST(duration_ms AS DOUBLE) AS ms, error_pattern AS pattern, error
  FROM cuj_runs
  WHERE $stream = 'cuj' AND ts BETWEEN $prev_start AND $end
  UNION ALL
  SELECT ts, CAST(cuj_id AS VARCHAR), CAST(skill AS VARCHAR), CAST(agent AS VARCHAR),
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), result = 'success',
    result IN ('success', 'failure'), CAST(duration_ms AS DOUBLE), error_pattern, error
  FROM skill_invocations
  WHERE $stream = 'skill' AND ts BETWEEN $prev_start AND $end
  UNION ALL
  SELECT ts, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
    CAST(provider AS VARCHAR), CAST(model AS VARCHAR), success, true,
    CAST(latency_ms AS DOUBLE), error_pattern, error
  FROM provider_calls
  WHERE $stream = 'provider' AND ts BETWEEN $prev_start AND $end
)
-- section: . merge
SELECT
  $stream AS stream,
  coalesce($by, 'all') AS by,
  $window_ms AS window_ms,
  CAST($start AS BIGINT) AS current_start,
  CAST($end AS BIGINT) AS current_end,
  CAST($prev_start AS BIGINT) AS previous_start,
  CAST($prev_end AS BIGINT) AS previous_end,
  $min_events AS min_events
-- section: groups array
WITH a AS (
  SELECT
    grp,
    count(*) FILTER (WHERE cur) AS events,
    count(*) FILTER (WHERE cur AND judged) AS judged,
    count(*) FILTER (WHERE cur AND judged AND ok) AS successes,
    percentile_disc(ms, 0.5) FILTER (WHERE cur) AS p50_ms,
    percentile_disc(ms, 0.95) FILTER (WHERE cur) AS p95_ms,
    count(*) FILTER (WHERE NOT cur) AS prev_events,
    count(*) FILTER (WHERE NOT cur AND judged) AS prev_judged,
    count(*) FILTER (WHERE NOT cur AND judged AND ok) AS prev_successes,
    percentile_disc(ms, 0.5) FILTER (WHERE NOT cur) AS prev_p50_ms,
    percentile_disc(ms, 0.95) FILTER (WHERE NOT cur) AS prev_p95_ms
  FROM ev
  GROUP BY grp
), r AS (
  SELECT
    *,
    CAST(successes AS DOUBLE) / nullif(judged, 0) AS success_rate,
    CAST(prev_successes AS DOUBLE) / nullif(prev_judged, 0) AS prev_success_rate,
    prop_test_p(prev_successes, prev_judged, successes, judged) AS p_value
  FROM a
)
SELECT
  grp AS "group",
  events,
  successes,
  success_rate,
  wilson_low(successes, judged) AS success_rate_low,
  wilson_high(successes, judged) AS success_rate_high,
  prev_events,
  prev_successes,
  prev_success_rate,
  wilson_low(prev_successes, prev_judged) AS prev_success_rate_low,
  wilson_high(prev_successes, prev_judged) AS prev_success_rate_high,
  success_rate - prev_success_rate AS change,
  p_value,
  coalesce(p_value < 0.05 AND judged >= $min_events AND prev_judged >= $min_events, false)
    AS significant,
  p50_ms,
  prev_p50_ms,
  p50_ms - prev_p50_ms AS p50_change_ms,
  p95_ms,
  prev_p95_ms,
  p95_ms - prev_p95_ms AS p95_change_ms
FROM r
ORDER BY significant DESC, abs(success_rate - prev_success_rate) DESC NULLS LAST, grp
-- section: new_error_patterns array
SELECT
  pattern,
  count(*) AS count,
  first_value(error ORDER BY ts) AS example,
  CAST(min(ts) AS BIGINT) AS first_seen,
  CAST(max(ts) AS BIGINT) AS last_seen,
  array_sort(array_agg(DISTINCT grp)) AS groups
FROM ev
WHERE pattern IS NOT NULL
GROUP BY pattern
-- Seen only in the current window: one grouping pass over both windows (`NOT IN` a subquery of
-- the previous window's patterns, a null-aware anti-join, took 8× as long on 700k runs).
HAVING bool_and(cur)
ORDER BY count DESC, pattern
