//! The dashboard as one self-contained HTML page: inline CSS and inline SVG charts, no scripts,
//! no network. Reads the dashboard's JSON form, so it shows exactly what `--format json` does.

use std::fmt::Write as _;
use std::io::Write;

use serde_json::Value;

use super::dashboard::to_fixed;
use super::out_err;
use crate::error::Result;

/// Series colours (colour-blind-safe Okabe–Ito palette).
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
];

/// Writes the HTML dashboard.
pub fn render_html(d: &Value, out: &mut dyn Write) -> Result<()> {
    let s = &d["summary"];
    let cuj = s["cujs"].get("24h_summary").cloned().unwrap_or(Value::Null);
    let skills = &s["skills"]["24h"];
    let providers = &s["providers"];
    let quarantined: f64 = s["storage"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["quarantined"].as_f64()).sum())
        .unwrap_or(0.0);
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>obsq dashboard — {generated}</title>
<style>{CSS}</style></head><body>
<header><h1>Agent monitoring dashboard</h1><p class="meta">Generated {generated} · obsq {version}</p></header>
<section class="cards">"#,
        generated = esc(&text(&d["generated_at"])),
        version = esc(&text(&d["metadata"]["obsq_version"])),
    );
    card(
        &mut h,
        "cuj-success",
        "CUJ success (24h)",
        &pct(&cuj["overall_success_rate"]),
        &format!(
            "{} runs of {} CUJs",
            int(&cuj["total_executions"]),
            int(&cuj["total_cujs"])
        ),
    );
    card(
        &mut h,
        "cuj-duration",
        "Avg CUJ duration (24h)",
        &ms(&cuj["avg_duration_ms"]),
        "weighted by runs",
    );
    card(
        &mut h,
        "skill-invocations",
        "Skill invocations (24h)",
        &int(&skills["total_invocations"]),
        &format!("{} successful", pct(&skills["success_rate"])),
    );
    card(
        &mut h,
        "cache-hit",
        "Skill cache hits (24h)",
        &pct(&skills["cache_hit_rate"]),
        &format!("{} hits", int(&skills["cache_hits"])),
    );
    card(
        &mut h,
        "provider-status",
        "Providers (24h)",
        &text(&providers["status"]),
        &format!(
            "{} success, {} of {} above 95% success",
            pct(&providers["overall_success_rate"]),
            int(&providers["healthy_providers"]),
            int(&providers["total_providers"])
        ),
    );
    card(
        &mut h,
        "quarantined",
        "Quarantined lines",
        &to_fixed(quarantined, 0),
        "bad input kept aside, with reasons",
    );
    h.push_str("</section>\n<section class=\"grid\">\n");

    panel(
        &mut h,
        "CUJ success rate, last 7 days (busiest CUJs)",
        &trend_chart(&d["trends"]),
    );
    panel(
        &mut h,
        "Provider latency percentiles (24h)",
        &latency_chart(&providers["providers"]),
    );
    panel(
        &mut h,
        "Top failure patterns (7 days)",
        &failure_chart(&d["failures"]["top_patterns"]),
    );
    panel(
        &mut h,
        "Skill usage and cache hits (7 days)",
        &skill_chart(&s["skills"]["7d_top_skills"]),
    );
    h.push_str("</section>\n");
    h.push_str(&what_changed(&d["what_changed"]));
    h.push_str(&highlights(&d["highlights"]));
    h.push_str(&storage(&s["storage"]));
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes()).map_err(out_err)
}

const CSS: &str = "
:root{--fg:#1d2330;--muted:#5b6474;--line:#d9dde5;--bg:#f6f7f9}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0;padding:24px 32px;max-width:1400px;margin:auto}
h1{font-size:24px;margin:0}h2{font-size:15px;margin:0 0 10px;color:var(--muted);font-weight:600}
.meta{color:var(--muted);margin:4px 0 20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:12px;margin-bottom:16px}
.card,.panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px}
.card .label{color:var(--muted);font-size:13px}.card .value{font-size:28px;font-weight:650;margin:2px 0}
.card .note{color:var(--muted);font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px;margin-bottom:16px}
svg{width:100%;height:auto;display:block}svg text{font:12px system-ui,sans-serif;fill:var(--fg)}
svg .axis{stroke:var(--line)}svg .muted{fill:var(--muted)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line)}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:var(--muted);padding:20px 0}
@media print{body{background:#fff;padding:0}.card,.panel{break-inside:avoid;border-color:#999}.grid{grid-template-columns:1fr 1fr}}
";

fn card(h: &mut String, id: &str, label: &str, value: &str, note: &str) {
    let _ = write!(
        h,
        r#"<div class="card"><div class="label">{}</div><div class="value" id="headline-{id}">{}</div><div class="note">{}</div></div>"#,
        esc(label),
        esc(value),
        esc(note)
    );
}

fn panel(h: &mut String, title: &str, body: &str) {
    let _ = writeln!(
        h,
        "<div class=\"panel\"><h2>{}</h2>{body}</div>",
        esc(title)
    );
}

fn empty(what: &str) -> String {
    format!("<p class=\"empty\">No {what} in this window.</p>")
}

/// A trend point: the bucket's label and its success rate (none without runs).
type Point = (String, Option<f64>);

/// One line per CUJ over the trend buckets; y is the success rate.
fn trend_chart(rows: &Value) -> String {
    let rows = rows.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        return empty("CUJ runs");
    }
    let mut series: Vec<(String, Vec<Point>)> = Vec::new();
    for r in &rows {
        let id = text(&r["cuj_id"]);
        if series.last().is_none_or(|(s, _)| *s != id) {
            series.push((id.clone(), Vec::new()));
        }
        let day = text(&r["bucket_end"]).get(5..10).unwrap_or("").to_string();
        if let Some((_, pts)) = series.last_mut() {
            pts.push((day, r["rate"].as_f64()));
        }
    }
    let n = series[0].1.len().max(1);
    let (w, ht, left, top, bottom) = (640.0, 260.0, 44.0, 12.0, 56.0);
    let plot_w = w - left - 16.0;
    let plot_h = ht - top - bottom;
    let x = |i: usize| left + plot_w * (i as f64 + 0.5) / n as f64;
    let y = |v: f64| top + plot_h * (1.0 - v);
    let mut s =
        format!(r#"<svg viewBox="0 0 {w} {ht}" role="img" aria-label="CUJ success rate trend">"#);
    for g in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            s,
            r#"<line class="axis" x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="muted" x="{}" y="{:.1}" text-anchor="end">{}%</text>"#,
            w - 16.0,
            left - 6.0,
            y(g) + 4.0,
            (g * 100.0) as i64,
            y = y(g)
        );
    }
    for (i, (label, _)) in series[0].1.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text class="muted" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(i),
            top + plot_h + 16.0,
            esc(label)
        );
    }
    for (k, (id, pts)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let path: Vec<String> = pts
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for (i, (_, v)) in pts.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {}: {}</title></circle>"#,
                    x(i),
                    y(*v),
                    esc(id),
                    esc(&pts[i].0),
                    to_fixed(v * 100.0, 1) + "%"
                );
            }
        }
        let lx = left + (k % 3) as f64 * 190.0;
        let ly = ht - 22.0 + (k / 3) as f64 * 14.0 - 6.0;
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{:.1}" width="10" height="10" fill="{color}"/><text x="{}" y="{:.1}">{}</text>"#,
            ly - 9.0,
            lx + 14.0,
            ly,
            esc(id)
        );
    }
    s.push_str("</svg>");
    s
}

/// Grouped horizontal bars: p50, p95, p99 per provider.
fn latency_chart(providers: &Value) -> String {
    let Some(map) = providers.as_object().filter(|m| !m.is_empty()) else {
        return empty("provider calls");
    };
    let keys = [
        ("latency_p50", "p50"),
        ("latency_p95", "p95"),
        ("latency_p99", "p99"),
    ];
    let max = map
        .values()
        .flat_map(|p| keys.iter().filter_map(|(k, _)| p[*k].as_f64()))
        .fold(1.0_f64, f64::max);
    let (w, left, bar, gap) = (640.0, 110.0, 15.0, 14.0);
    let group = bar * 3.0 + gap;
    let ht = map.len() as f64 * group + 36.0;
    let scale = (w - left - 120.0) / max;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {ht}" role="img" aria-label="Provider latency percentiles">"#
    );
    for (i, (name, p)) in map.iter().enumerate() {
        let y0 = 8.0 + i as f64 * group;
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y0 + bar * 1.5 + 4.0,
            esc(name)
        );
        for (j, (k, label)) in keys.iter().enumerate() {
            let v = p[*k].as_f64().unwrap_or(0.0);
            let y = y0 + j as f64 * bar;
            let _ = write!(
                s,
                r#"<rect x="{left}" y="{y:.1}" width="{:.1}" height="{}" fill="{}"><title>{} {label}: {} ms</title></rect><text class="muted" x="{:.1}" y="{:.1}">{label} {} ms</text>"#,
                (v * scale).max(1.0),
                bar - 1.0,
                PALETTE[j],
                esc(name),
                to_fixed(v, 0),
                left + v * scale + 4.0,
                y + bar - 1.0,
                to_fixed(v, 0)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of the top failure patterns, with their share.
fn failure_chart(rows: &Value) -> String {
    let rows = rows.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        return empty("failures");
    }
    let items: Vec<(String, f64, String)> = rows
        .iter()
        .map(|r| {
            let note = format!("{} · {}", int(&r["count"]), pct(&r["share"]));
            (
                text(&r["pattern"]),
                r["count"].as_f64().unwrap_or(0.0),
                note,
            )
        })
        .collect();
    hbars(&items, "Top failure patterns", PALETTE[5])
}

/// Horizontal bars of skill invocations, labelled with the cache-hit rate.
fn skill_chart(rows: &Value) -> String {
    let rows = rows.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        return empty("skill invocations");
    }
    let items: Vec<(String, f64, String)> = rows
        .iter()
        .map(|r| {
            let note = format!(
                "{} calls · {} cache hits · {} failed",
                int(&r["count"]),
                pct(&r["cache_hit_rate"]),
                pct(&r["failure_rate"])
            );
            (text(&r["skill"]), r["count"].as_f64().unwrap_or(0.0), note)
        })
        .collect();
    hbars(&items, "Skill usage", PALETTE[0])
}

fn hbars(items: &[(String, f64, String)], label: &str, color: &str) -> String {
    let max = items.iter().map(|i| i.1).fold(1.0_f64, f64::max);
    let (w, row) = (640.0, 34.0);
    let ht = items.len() as f64 * row + 8.0;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {ht}" role="img" aria-label="{}">"#,
        esc(label)
    );
    for (i, (name, v, note)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let short: String = name.chars().take(80).collect();
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}">{}</text><rect x="0" y="{:.1}" width="{:.1}" height="10" fill="{color}"><title>{}</title></rect><text class="muted" x="{:.1}" y="{:.1}">{}</text>"#,
            y + 11.0,
            esc(&short),
            y + 15.0,
            (v / max * 340.0).max(1.0),
            esc(name),
            (v / max * 340.0).max(1.0) + 6.0,
            y + 24.0,
            esc(note)
        );
    }
    s.push_str("</svg>");
    s
}

fn highlights(h: &Value) -> String {
    let mut rows = String::new();
    for (label, key, value) in [
        ("Fastest CUJ", "fastest_cuj", "avg_duration_ms"),
        ("Slowest CUJ", "slowest_cuj", "avg_duration_ms"),
        ("Most reliable", "most_reliable_cuj", "success_rate"),
        ("Least reliable", "least_reliable_cuj", "success_rate"),
    ] {
        if h[key].is_object() {
            let v = &h[key][value];
            let v = if value == "success_rate" {
                pct(v)
            } else {
                ms(v)
            };
            let _ = write!(
                rows,
                "<tr><th>{label}</th><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&text(&h[key]["cuj_id"])),
                esc(&v)
            );
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<section class=\"panel\" style=\"margin-bottom:16px\"><h2>Highlights (24h)</h2><table>{rows}</table></section>\n"
    )
}

/// This week against the one before: the groups whose success rate moved most (significant
/// ones marked), and the error patterns new this week.
fn what_changed(w: &Value) -> String {
    if !w.is_object() {
        return String::new();
    }
    let mut t = String::from(
        "<tr><th>group</th><th>events</th><th>success before</th><th>success now</th><th>change</th><th>p-value</th><th>p95 before</th><th>p95 now</th></tr>",
    );
    let mut rows = 0;
    for (key, what) in [("cujs", "CUJ"), ("providers", "provider")] {
        for g in w[key]["groups"].as_array().into_iter().flatten().take(8) {
            rows += 1;
            let sig = g["significant"] == Value::Bool(true);
            let _ = write!(
                t,
                "<tr{}><td>{what} {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                if sig { " class=\"significant\"" } else { "" },
                esc(&text(&g["group"])),
                int(&g["events"]),
                pct(&g["prev_success_rate"]),
                pct(&g["success_rate"]),
                g["change"]
                    .as_f64()
                    .map_or_else(|| "—".into(), |c| format!("{} pts", to_fixed(c * 100.0, 1))),
                g["p_value"]
                    .as_f64()
                    .map_or_else(|| "—".into(), |p| to_fixed(p, 4)),
                if sig { " ★" } else { "" },
                ms(&g["prev_p95_ms"]),
                ms(&g["p95_ms"]),
            );
        }
    }
    let mut patterns = String::new();
    for (key, what) in [("cujs", "CUJ"), ("providers", "provider")] {
        for n in w[key]["new_error_patterns"]
            .as_array()
            .into_iter()
            .flatten()
            .take(5)
        {
            let _ = write!(
                patterns,
                "<li>{what}: <code>{}</code> ({}×)</li>",
                esc(&text(&n["pattern"])),
                int(&n["count"])
            );
        }
    }
    if rows == 0 && patterns.is_empty() {
        return String::new();
    }
    let patterns = if patterns.is_empty() {
        String::new()
    } else {
        format!("<h2>New error patterns</h2><ul>{patterns}</ul>")
    };
    format!(
        "<section class=\"panel\" id=\"what-changed\" style=\"margin-bottom:16px\"><h2>What changed (7 days vs the 7 before; ★ significant, p &lt; 0.05)</h2><table>{t}</table>{patterns}</section>\n"
    )
}

fn storage(rows: &Value) -> String {
    let mut t = String::from(
        "<tr><th>stream</th><th>rows</th><th>files</th><th>bytes</th><th>small files</th><th>quarantined</th><th>not ingested</th></tr>",
    );
    for r in rows.as_array().into_iter().flatten() {
        let _ = write!(
            t,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&text(&r["stream"])),
            int(&r["rows"]),
            int(&r["files"]),
            int(&r["bytes"]),
            int(&r["small_files"]),
            int(&r["quarantined"]),
            int(&r["lag_bytes"])
        );
    }
    format!("<section class=\"panel\"><h2>Storage health</h2><table>{t}</table></section>\n")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        v => v.to_string(),
    }
}

fn int(v: &Value) -> String {
    v.as_f64().map_or_else(|| "0".into(), |x| to_fixed(x, 0))
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "—".into(), |x| format!("{}%", to_fixed(x * 100.0, 1)))
}

fn ms(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "—".into(), |x| format!("{} ms", to_fixed(x, 0)))
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
