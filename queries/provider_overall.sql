-- name: provider_overall
-- description: Overall provider health over the window: unknown with no calls, else unhealthy
--   below a 0.7 success rate, degraded below 0.9, healthy otherwise; providers healthy above
--   0.95; the average latency weights each provider's rounded average by its calls (as the
--   original). The per-provider map comes from provider_status.
-- params: $start, $end (window, both ends inclusive)
-- section: . merge
WITH per AS (
  SELECT
    provider,
    count(*) AS n,
    count(*) FILTER (WHERE success) AS ok,
    round(avg(latency_ms)) AS avg_latency_ms
  FROM provider_calls
  WHERE ts BETWEEN $start AND $end
  GROUP BY provider
)
SELECT
  CASE
    WHEN count(*) = 0 THEN 'unknown'
    WHEN CAST(sum(ok) AS DOUBLE) / sum(n) < 0.7 THEN 'unhealthy'
    WHEN CAST(sum(ok) AS DOUBLE) / sum(n) < 0.9 THEN 'degraded'
    ELSE 'healthy'
  END AS status,
  count(*) FILTER (WHERE CAST(ok AS DOUBLE) / n > 0.95) AS healthy_providers,
  count(*) AS total_providers,
  coalesce(CAST(sum(ok) AS DOUBLE) / sum(n), 0) AS overall_success_rate,
  coalesce(round(sum(avg_latency_ms * n) / sum(n) FILTER (WHERE avg_latency_ms IS NOT NULL)), 0)
    AS overall_avg_latency_ms
FROM per
