-- name: provider_compare
-- description: Providers (or provider/model with $by_model) ranked by score = success_rate *
--   (1 - min(avg_latency_ms / 10000, 1)), best first, using the rounded average latency.
-- params: $start, $end (window, both ends inclusive), $by_model
-- section: . array
WITH per AS (
  SELECT
    CASE WHEN $by_model THEN provider || '/' || coalesce(model, '-') ELSE provider END AS provider,
    count(*) AS total_calls,
    CAST(count(*) FILTER (WHERE success) AS DOUBLE) / count(*) AS success_rate,
    round(avg(latency_ms)) AS avg_latency_ms,
    min(ts) AS first_seen
  FROM provider_calls
  WHERE ts BETWEEN $start AND $end
  GROUP BY 1
)
SELECT
  provider,
  success_rate,
  avg_latency_ms,
  total_calls,
  success_rate * (1 - CASE WHEN avg_latency_ms / 10000 > 1 THEN 1 ELSE avg_latency_ms / 10000 END)
    AS score
FROM per
ORDER BY score DESC NULLS LAST, first_seen, provider
