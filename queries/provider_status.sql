-- name: provider_status
-- description: Health of each provider (or provider/model with $by_model) over the window:
--   success rate, calls, average latency (rounded like the original), exact nearest-rank latency
--   percentiles, last success and failure (epoch ms), the 10 most recent errors, and a status
--   (unhealthy < 0.7 <= degraded < 0.9 <= healthy; `healthy` = success rate above 0.95).
-- params: $start, $end (window, both ends inclusive), $provider (name or NULL for all),
--   $by_model, $pct (percentile_disc or approx_percentile_cont)
-- view: calls
SELECT
  CASE WHEN $by_model THEN provider || '/' || coalesce(model, '-') ELSE provider END AS provider,
  ts, success, latency_ms, error
FROM provider_calls
WHERE ts BETWEEN $start AND $end
  AND ($provider IS NULL OR provider = lower($provider))
-- section: . map:provider
WITH errs AS (
  SELECT provider, array_agg(named_struct('timestamp', CAST(ts AS BIGINT), 'error', error) ORDER BY ts) AS recent_errors
  FROM (
    SELECT provider, ts, error, row_number() OVER (PARTITION BY provider ORDER BY ts DESC) AS k
    FROM calls
    WHERE NOT success AND error IS NOT NULL AND error <> ''
  )
  WHERE k <= 10
  GROUP BY provider
), agg AS (
  SELECT
    provider,
    count(*) AS total_calls,
    count(*) FILTER (WHERE success) AS successful_calls,
    round(avg(latency_ms)) AS avg_latency_ms,
    coalesce($pct(latency_ms, 0.5), 0) AS latency_p50,
    coalesce($pct(latency_ms, 0.95), 0) AS latency_p95,
    coalesce($pct(latency_ms, 0.99), 0) AS latency_p99,
    CAST(max(ts) FILTER (WHERE success) AS BIGINT) AS last_success,
    CAST(max(ts) FILTER (WHERE NOT success) AS BIGINT) AS last_failure,
    min(ts) AS first_seen
  FROM calls
  GROUP BY provider
)
SELECT
  -- One provider asked for by name: echo the name as typed, as the original did.
  CASE WHEN $provider IS NOT NULL AND NOT $by_model THEN $provider ELSE a.provider END AS provider,
  true AS available,
  CAST(a.successful_calls AS DOUBLE) / a.total_calls AS success_rate,
  a.total_calls,
  a.successful_calls,
  a.total_calls - a.successful_calls AS failed_calls,
  a.avg_latency_ms,
  a.latency_p50,
  a.latency_p95,
  a.latency_p99,
  a.last_success,
  a.last_failure,
  coalesce(e.recent_errors, make_array()) AS recent_errors,
  CASE
    WHEN CAST(a.successful_calls AS DOUBLE) / a.total_calls < 0.7 THEN 'unhealthy'
    WHEN CAST(a.successful_calls AS DOUBLE) / a.total_calls < 0.9 THEN 'degraded'
    ELSE 'healthy'
  END AS status,
  CAST(a.successful_calls AS DOUBLE) / a.total_calls > 0.95 AS healthy
FROM agg AS a
LEFT JOIN errs AS e ON e.provider = a.provider
ORDER BY a.first_seen, 1
