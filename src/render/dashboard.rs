//! The text dashboard, laid out like the original `metrics-dashboard.mjs` (labels padded to
//! column 24, JavaScript `toFixed` rounding), with provider health and storage health in place
//! of the original's resource section (which measured the dashboard process itself).

use std::io::Write;

use serde_json::Value;

use super::out_err;
use crate::error::Result;

const RULE: &str = "═══════════════════════════════════════════════════════════";
const THIN: &str = "─────────────────────────────────────────────────────────";

/// Writes the text dashboard from its JSON form ([`super::report::report_json`]).
pub fn render_text(d: &Value, out: &mut dyn Write) -> Result<()> {
    let mut s = String::new();
    let line = |s: &mut String, t: &str| {
        s.push_str(t);
        s.push('\n');
    };
    let kv = |s: &mut String, k: &str, v: String| {
        s.push_str(&format!("  {:<22}{v}\n", format!("{k}:")));
    };
    line(&mut s, RULE);
    line(&mut s, "              PERFORMANCE METRICS DASHBOARD");
    line(&mut s, RULE);
    line(
        &mut s,
        &format!("Generated: {}", str_of(&d["generated_at"])),
    );
    line(&mut s, "");

    let summary = &d["summary"];
    if let Some(c) = summary["cujs"].get("24h_summary") {
        section(&mut s, "CUJ METRICS (Last 24 Hours)");
        kv(&mut s, "Total CUJs", int(&c["total_cujs"]));
        kv(&mut s, "Total Executions", int(&c["total_executions"]));
        kv(&mut s, "Success Rate", pct(&c["overall_success_rate"]));
        kv(
            &mut s,
            "Avg Duration",
            format!("{}ms", fixed(&c["avg_duration_ms"], 0)),
        );
        line(&mut s, "");
    }

    let k = &summary["skills"]["24h"];
    section(&mut s, "SKILL METRICS (Last 24 Hours)");
    kv(&mut s, "Total Invocations", int(&k["total_invocations"]));
    kv(&mut s, "Success Rate", pct(&k["success_rate"]));
    kv(&mut s, "Cache Hit Rate", pct(&k["cache_hit_rate"]));
    kv(
        &mut s,
        "Avg Duration",
        format!("{}ms", fixed(&k["avg_duration_ms"], 0)),
    );
    line(&mut s, "");

    let h = &d["highlights"];
    section(&mut s, "PERFORMANCE HIGHLIGHTS");
    let cuj_ms = |c: &Value| {
        format!(
            "{} ({}ms)",
            str_of(&c["cuj_id"]),
            fixed(&c["avg_duration_ms"], 0)
        )
    };
    let cuj_rate = |c: &Value| format!("{} ({})", str_of(&c["cuj_id"]), pct(&c["success_rate"]));
    for (label, key, f) in [
        (
            "Fastest CUJ",
            "fastest_cuj",
            &cuj_ms as &dyn Fn(&Value) -> String,
        ),
        ("Slowest CUJ", "slowest_cuj", &cuj_ms),
        ("Most Reliable", "most_reliable_cuj", &cuj_rate),
        ("Least Reliable", "least_reliable_cuj", &cuj_rate),
    ] {
        if h[key].is_object() {
            kv(&mut s, label, f(&h[key]));
        }
    }
    line(&mut s, "");

    if let Some(top) = summary["skills"]["24h_top_skills"]
        .as_array()
        .filter(|t| !t.is_empty())
    {
        section(&mut s, "TOP 5 MOST USED SKILLS (Last 24 Hours)");
        for (i, t) in top.iter().take(5).enumerate() {
            line(
                &mut s,
                &format!(
                    "  {}. {:<30} {} calls, {}ms avg",
                    i + 1,
                    str_of(&t["skill"]),
                    int(&t["count"]),
                    fixed(&t["avg_duration_ms"], 0)
                ),
            );
        }
        line(&mut s, "");
    }

    let p = &summary["providers"];
    section(&mut s, "PROVIDER HEALTH (Last 24 Hours)");
    kv(&mut s, "Status", str_of(&p["status"]));
    // Two thresholds, each labelled: the count is the original tools' (success above 95 %),
    // the per-provider status is healthy at 90 % or more, degraded at 70 %, else unhealthy.
    kv(
        &mut s,
        "Above 95% Success",
        format!(
            "{} of {} providers",
            int(&p["healthy_providers"]),
            int(&p["total_providers"])
        ),
    );
    kv(&mut s, "Success Rate", pct(&p["overall_success_rate"]));
    kv(
        &mut s,
        "Avg Latency",
        format!("{}ms", int(&p["overall_avg_latency_ms"])),
    );
    if let Some(map) = p["providers"].as_object().filter(|m| !m.is_empty()) {
        line(
            &mut s,
            "  status: healthy >= 90% success, degraded >= 70%, unhealthy below",
        );
        for (name, v) in map {
            line(
                &mut s,
                &format!(
                    "  {:<22}{:<10} {:>6} of {} calls, p95 {}ms",
                    name,
                    str_of(&v["status"]),
                    pct(&v["success_rate"]),
                    int(&v["total_calls"]),
                    fixed(&v["latency_p95"], 0)
                ),
            );
        }
    }
    line(&mut s, "");

    what_changed(&mut s, &d["what_changed"]);

    section(&mut s, "STORAGE");
    if let Some(rows) = summary["storage"].as_array() {
        for r in rows {
            line(
                &mut s,
                &format!(
                    "  {:<22}{} rows in {} files ({}), {} quarantined, {} not ingested",
                    str_of(&r["stream"]),
                    int(&r["rows"]),
                    int(&r["files"]),
                    bytes(&r["bytes"]),
                    int(&r["quarantined"]),
                    bytes(&r["lag_bytes"]),
                ),
            );
        }
    }
    line(&mut s, "");
    line(&mut s, RULE);
    out.write_all(s.as_bytes()).map_err(out_err)
}

/// Significant success-rate changes and new error patterns, this week against the one before.
fn what_changed(s: &mut String, w: &Value) {
    if !w.is_object() {
        return;
    }
    section(s, "WHAT CHANGED (Last 7 Days vs the 7 Before)");
    let mut any = false;
    for (key, what) in [("cujs", "CUJ"), ("providers", "provider")] {
        for g in w[key]["groups"].as_array().into_iter().flatten() {
            if g["significant"] != Value::Bool(true) {
                continue;
            }
            any = true;
            s.push_str(&format!(
                "  {:<22}{} -> {} success (p {}), p95 {}ms -> {}ms\n",
                format!("{what} {}", str_of(&g["group"])),
                pct(&g["prev_success_rate"]),
                pct(&g["success_rate"]),
                p_value(&g["p_value"]),
                fixed(&g["prev_p95_ms"], 0),
                fixed(&g["p95_ms"], 0),
            ));
        }
        for n in w[key]["new_error_patterns"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
        {
            any = true;
            s.push_str(&format!(
                "  {:<22}{} ({}x, {})\n",
                format!("new {what} error"),
                str_of(&n["pattern"]),
                int(&n["count"]),
                n["groups"]
                    .as_array()
                    .map(|g| g.iter().map(str_of).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ));
        }
    }
    if !any {
        s.push_str("  No significant change and no new error pattern\n");
    }
    s.push('\n');
}

fn p_value(v: &Value) -> String {
    match v.as_f64() {
        Some(p) if p < 0.0001 => "< 0.0001".into(),
        Some(p) => to_fixed(p, 4),
        None => "-".into(),
    }
}

fn section(s: &mut String, title: &str) {
    s.push_str(title);
    s.push('\n');
    s.push_str(THIN);
    s.push('\n');
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn int(v: &Value) -> String {
    v.as_f64().map_or_else(|| "0".into(), |x| to_fixed(x, 0))
}

fn pct(v: &Value) -> String {
    format!("{}%", to_fixed(v.as_f64().unwrap_or(0.0) * 100.0, 1))
}

fn fixed(v: &Value, digits: usize) -> String {
    to_fixed(v.as_f64().unwrap_or(0.0), digits)
}

fn bytes(v: &Value) -> String {
    let b = v.as_f64().unwrap_or(0.0);
    match b {
        b if b >= 1073741824.0 => format!("{} GiB", to_fixed(b / 1073741824.0, 1)),
        b if b >= 1048576.0 => format!("{} MiB", to_fixed(b / 1048576.0, 1)),
        b if b >= 1024.0 => format!("{} KiB", to_fixed(b / 1024.0, 1)),
        b => format!("{} B", to_fixed(b, 0)),
    }
}

/// JavaScript's `Number#toFixed`: rounds the exact binary value half up (`2.5` → `3`, while
/// Rust's `{:.0}` gives `2`; `1.005` → `1.00`, since 1.005 is stored just below).
pub fn to_fixed(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "NaN".into();
    }
    // Rust prints the exact decimal expansion when asked for enough digits (a double has at
    // most 1074 of them after the point).
    let exact = format!("{:.1100}", x.abs());
    let (int, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let mut digits_str: Vec<u8> = int.bytes().chain(frac.bytes().take(digits)).collect();
    if frac.as_bytes().get(digits).is_some_and(|d| *d >= b'5') {
        let mut i = digits_str.len();
        loop {
            if i == 0 {
                digits_str.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits_str[i] == b'9' {
                digits_str[i] = b'0';
            } else {
                digits_str[i] += 1;
                break;
            }
        }
    }
    let int_len = digits_str.len() - digits;
    let mut out = String::new();
    let is_zero = digits_str.iter().all(|d| *d == b'0');
    if x < 0.0 && !is_zero {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits_str[..int_len]).unwrap_or("0"));
    if digits > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(&digits_str[int_len..]).unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::to_fixed;

    #[test]
    fn to_fixed_rounds_like_javascript() {
        assert_eq!(to_fixed(2.5, 0), "3");
        assert_eq!(to_fixed(1.005, 2), "1.00");
        assert_eq!(to_fixed(0.7142857142857143 * 100.0, 1), "71.4");
        assert_eq!(to_fixed(99.95, 1), "100.0"); // 99.95 is stored just above .95
        assert_eq!(to_fixed(9.99, 0), "10");
        assert_eq!(to_fixed(0.0, 1), "0.0");
        assert_eq!(to_fixed(-1.5, 0), "-2");
        assert_eq!(to_fixed(23028.428571428572, 0), "23028");
    }
}
