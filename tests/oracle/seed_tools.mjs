// An independent re-implementation of the original Node monitoring tools' *read* paths, written
// from ../shared/spec/seed-formats.md (sections 1.3, 2.3-2.4, 3.2, 4.3, 5.2-5.3, 6.1) — not from
// obsq. The report tests run it on the fixture files and compare its answers with obsq's.
//
// Usage: node seed_tools.mjs CONTEXT_DIR NOW_ISO TOOL COMMAND [ARGS...]
//   metrics rate CUJ WINDOW_MS | metrics all WINDOW_MS | metrics trending CUJ BUCKETS SIZE_MS
//   metrics failures CUJ WINDOW_MS | metrics percentiles CUJ WINDOW_MS
//   progress history [RUN] [LIMIT] | progress current RUN
//   provider status [PROVIDER] | provider overall | provider compare
//   dashboard cujs | dashboard skills [true-windows]
// Options (environment): ORACLE_ALL_LATENCIES=1 takes provider percentiles over every latency
// instead of the last 100 (obsq's documented difference).
import fs from 'node:fs';
import path from 'node:path';

const [ctx, nowIso, tool, cmd, ...args] = process.argv.slice(2);
const NOW = new Date(nowIso).getTime();

function readJsonl(file) {
  if (!fs.existsSync(file)) return [];
  const out = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try { out.push(JSON.parse(line)); } catch { /* skipped silently, as the original */ }
  }
  return out;
}

function percentile(sorted, p) {
  const i = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[i];
}

// ---- metrics-tracker (spec 3.2) ----
const cujFile = path.join(ctx, 'analytics', 'cuj-metrics.jsonl');
function loadMetrics(cujId, win) {
  let rows = readJsonl(cujFile);
  if (cujId) rows = rows.filter((r) => r.cuj_id === cujId);
  if (win) rows = rows.filter((r) => !(NOW - new Date(r.timestamp).getTime() > win));
  return rows;
}
function rate(cujId, win) {
  const rows = loadMetrics(cujId, win);
  if (rows.length === 0) {
    return { cuj_id: cujId, total: 0, successful: 0, failed: 0, rate: 0, avg_duration_ms: 0, time_window_ms: win };
  }
  const ok = rows.filter((r) => r.success).length;
  const dur = rows.reduce((s, r) => s + (r.duration_ms || 0), 0);
  return {
    cuj_id: cujId, total: rows.length, successful: ok, failed: rows.length - ok, rate: ok / rows.length,
    avg_duration_ms: dur / rows.length, time_window_ms: win,
    window_start: new Date(NOW - win).toISOString(), window_end: new Date(NOW).toISOString(),
  };
}
function all(win) {
  const out = {};
  for (const r of loadMetrics(undefined, win)) if (!(r.cuj_id in out)) out[r.cuj_id] = null;
  for (const id of Object.keys(out)) out[id] = rate(id, win);
  return out;
}
function trending(cujId, buckets, size) {
  const rows = loadMetrics(cujId, buckets * size);
  const out = [];
  for (let i = buckets - 1; i >= 0; i--) {
    const start = NOW - (i + 1) * size, end = NOW - i * size;
    const b = rows.filter((r) => { const t = new Date(r.timestamp).getTime(); return t >= start && t < end; });
    const ok = b.filter((r) => r.success).length;
    out.push({ bucket_start: new Date(start).toISOString(), bucket_end: new Date(end).toISOString(),
      total: b.length, successful: ok, failed: b.length - ok, rate: b.length ? ok / b.length : 0 });
  }
  return out;
}
function failures(cujId, win) {
  const f = loadMetrics(cujId, win).filter((r) => !r.success);
  const counts = {};
  for (const r of f) { const k = r.error || 'Unknown error'; counts[k] = (counts[k] || 0) + 1; }
  const top = Object.entries(counts).map(([error, count]) => ({ error, count }))
    .sort((a, b) => b.count - a.count).slice(0, 10);
  return { cuj_id: cujId, total_failures: f.length, unique_errors: Object.keys(counts).length, top_errors: top,
    recent_failures: f.slice(-5).map((r) => ({ timestamp: r.timestamp, error: r.error, duration_ms: r.duration_ms })) };
}
function percentiles(cujId, win) {
  const d = loadMetrics(cujId, win).map((r) => r.duration_ms).sort((a, b) => a - b);
  if (d.length === 0) return { p50: 0, p75: 0, p90: 0, p95: 0, p99: 0 };
  return { cuj_id: cujId, p50: percentile(d, 50), p75: percentile(d, 75), p90: percentile(d, 90),
    p95: percentile(d, 95), p99: percentile(d, 99), min: d[0], max: d[d.length - 1], count: d.length };
}

// ---- progress-emitter (spec 4.3) ----
const progressFile = path.join(ctx, 'logs', 'progress.jsonl');
function history(runId, limit) {
  const out = [];
  for (const r of readJsonl(progressFile)) {
    if (runId && r.run_id !== runId) continue;
    out.push(r);
    if (limit && out.length >= limit) break;
  }
  return out;
}
function current(runId) {
  const rows = readJsonl(progressFile).filter((r) => r.run_id === runId);
  return rows.length ? rows[rows.length - 1] : null;
}

// ---- provider-health (spec 5.2-5.3) ----
function providerState() {
  const file = path.join(ctx, 'analytics', 'provider-health.jsonl');
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()) : [];
  const st = {};
  for (const line of lines.slice(-1000)) {
    let e; try { e = JSON.parse(line); } catch { continue; }
    const p = (st[e.provider] ||= { total: 0, ok: 0, lat: 0, lats: [], last_success: null, last_failure: null, errors: [] });
    p.total++; if (e.success) p.ok++;
    p.lat += e.latency_ms;
    p.lats.push(e.latency_ms);
    if (!process.env.ORACLE_ALL_LATENCIES && p.lats.length > 100) p.lats.shift();
    if (e.success) p.last_success = e.timestamp; else {
      p.last_failure = e.timestamp;
      if (e.error) { p.errors.push({ timestamp: e.timestamp, error: e.error }); if (p.errors.length > 10) p.errors.shift(); }
    }
  }
  return st;
}
function health(st, name) {
  const p = st[name.toLowerCase()];
  if (!p) return { provider: name, available: false, reason: 'No data available' };
  const s = [...p.lats].sort((a, b) => a - b);
  const pc = (q) => (s.length ? percentile(s, q) : 0);
  return { provider: name, available: true, success_rate: p.ok / p.total, total_calls: p.total,
    successful_calls: p.ok, failed_calls: p.total - p.ok, avg_latency_ms: Math.round(p.lat / p.total),
    latency_p50: pc(50), latency_p95: pc(95), latency_p99: pc(99), last_success: p.last_success,
    last_failure: p.last_failure, recent_errors: p.errors };
}
function allHealth(st) { const o = {}; for (const k of Object.keys(st)) o[k] = health(st, k); return o; }
function overall(st) {
  const h = allHealth(st), names = Object.keys(h);
  if (!names.length) return { status: 'unknown', healthy_providers: 0, total_providers: 0, overall_success_rate: 0, overall_avg_latency_ms: 0 };
  let calls = 0, ok = 0, lat = 0, healthy = 0;
  for (const n of names) { const x = h[n]; calls += x.total_calls; ok += x.successful_calls; lat += x.avg_latency_ms * x.total_calls; if (x.success_rate > 0.95) healthy++; }
  const r = ok / calls;
  return { status: r < 0.7 ? 'unhealthy' : r < 0.9 ? 'degraded' : 'healthy', healthy_providers: healthy,
    total_providers: names.length, overall_success_rate: r, overall_avg_latency_ms: Math.round(lat / calls), providers: h };
}
function compare(st) {
  return Object.values(allHealth(st)).map((h) => ({ provider: h.provider, success_rate: h.success_rate,
    avg_latency_ms: h.avg_latency_ms, total_calls: h.total_calls,
    score: h.success_rate * (1 - Math.min(h.avg_latency_ms / 10000, 1)) })).sort((a, b) => b.score - a.score);
}

// ---- dashboard (spec 6.1) ----
function cujDashboard() {
  const out = {};
  for (const [label, w] of [['1h', 3600000], ['24h', 86400000], ['7d', 604800000], ['30d', 2592000000]]) {
    const m = all(w); out[label] = m;
    const v = Object.values(m);
    if (v.length) {
      const t = v.reduce((s, x) => s + x.total, 0), ok = v.reduce((s, x) => s + x.successful, 0);
      out[`${label}_summary`] = { total_cujs: v.length, total_executions: t, total_successful: ok,
        overall_success_rate: ok / t, avg_duration_ms: v.reduce((s, x) => s + x.avg_duration_ms * x.total, 0) / t };
    }
  }
  return out;
}
// Skill windows: the original's whole-file date selection (spec 2.3), or true windows.
function skillDashboard(trueWindows) {
  const dir = path.join(ctx, 'logs');
  const files = fs.readdirSync(dir).filter((f) => /^skill-invocations-(\d{4}-\d{2}-\d{2})\.jsonl$/.test(f)).sort();
  const out = {};
  for (const [label, w] of [['1h', 3600000], ['24h', 86400000], ['7d', 604800000]]) {
    const start = NOW - w;
    const rows = [];
    for (const f of files) {
      const day = new Date(f.slice(18, 28)).getTime();
      if (!trueWindows && day < start) continue;
      for (const r of readJsonl(path.join(dir, f))) {
        const t = new Date(r.timestamp).getTime();
        if (t < start || t > NOW) continue;
        rows.push(r);
      }
    }
    const n = rows.length, ok = rows.filter((r) => r.result === 'success').length;
    const hits = rows.filter((r) => r.cache_hit).length, dur = rows.reduce((s, r) => s + (r.duration_ms || 0), 0);
    const bySkill = {};
    for (const r of rows) {
      const s = (bySkill[r.skill] ||= { count: 0, duration_ms: 0, failures: 0, cache_hits: 0 });
      s.count++; s.duration_ms += r.duration_ms || 0; if (r.result === 'failure') s.failures++; if (r.cache_hit) s.cache_hits++;
    }
    out[label] = { total_invocations: n, successful: ok, failed: rows.filter((r) => r.result === 'failure').length,
      success_rate: n ? ok / n : 0, cache_hits: hits, cache_hit_rate: n ? hits / n : 0,
      total_duration_ms: dur, avg_duration_ms: n ? dur / n : 0, by_skill: bySkill };
    out[`${label}_top_skills`] = Object.entries(bySkill).map(([skill, s]) => ({ skill, count: s.count,
      avg_duration_ms: s.duration_ms / s.count, failure_rate: s.failures / s.count, cache_hit_rate: s.cache_hits / s.count }))
      .sort((a, b) => b.count - a.count).slice(0, 10);
  }
  return out;
}

const num = (s) => (s === undefined ? undefined : parseInt(s, 10));
const run = {
  metrics: {
    rate: () => rate(args[0] || undefined, num(args[1])), all: () => all(num(args[0])),
    trending: () => trending(args[0], num(args[1]), num(args[2])),
    failures: () => failures(args[0], num(args[1])), percentiles: () => percentiles(args[0], num(args[1])),
  },
  progress: { history: () => history(args[0], num(args[1])), current: () => current(args[0]) },
  provider: {
    status: () => (args[0] ? health(providerState(), args[0]) : allHealth(providerState())),
    overall: () => overall(providerState()), compare: () => compare(providerState()),
  },
  dashboard: { cujs: () => cujDashboard(), skills: () => skillDashboard(args[0] === 'true-windows') },
};
const f = run[tool]?.[cmd];
if (!f) { console.error(`unknown command: ${tool} ${cmd}`); process.exit(2); }
console.log(JSON.stringify(f(), null, 2));
