//! Report latency in-process: a session over the catalog's files plus one canned report, on a
//! generated dataset (`OBSQ_BENCH_EVENTS`, default 1M events over 30 days, all four streams).
//! Process start and DuckDB's times are measured by `bench/compare.sh`.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use obsq::engine::{EngineOptions, session};
use obsq::generate::{GenerateOptions, generate};
use obsq::reports::{self, Params, Report, Value, Window};
use obsq::store::Layout;
use obsq::store::ingest::{IngestOptions, ingest};
use obsq::store::objects::Objects;

const DAY: i64 = 86_400_000;
/// 2026-11-29T00:00:00Z, the end of the generated data.
const NOW: i64 = 1_795_910_400_000;

fn bench(c: &mut Criterion) {
    let events = std::env::var("OBSQ_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let src: PathBuf = dir.path().join("src");
    generate(&GenerateOptions {
        rows: events,
        seed: 42,
        out: src.clone(),
        days: 30,
        end_ms: NOW - DAY,
        dirty: 0.0,
        streams: obsq::model::Stream::ALL.to_vec(),
        shape: Default::default(),
    })
    .expect("generate");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let layout = Layout::new(dir.path().join("root"));
    layout.create().expect("data root");
    let objects = Objects::local(layout.root(), rt.handle().clone()).expect("objects");
    let opts = IngestOptions {
        dirs: vec![src],
        ..IngestOptions::default()
    };
    ingest(&layout, &objects, &opts).expect("ingest");

    let cases: Vec<(&str, Report, Params)> = vec![
        (
            "cuj_all_30d",
            Report::CujAll,
            Params::new(NOW, Window::Ms(30 * DAY)),
        ),
        (
            "skills_stats_7d",
            Report::SkillsStats,
            Params::new(NOW, Window::Ms(7 * DAY)),
        ),
        ("cuj_failures_30d", Report::CujFailures, {
            let mut p = Params::new(NOW, Window::Ms(30 * DAY));
            p.set("cuj", Value::opt_text(None))
                .set("top", Value::Int(10));
            p
        }),
        ("cuj_trending", Report::CujTrending, {
            let mut p = Params::new(NOW, Window::Ms(DAY));
            p.set("cuj", Value::opt_text(Some("CUJ-001")))
                .set_trend(24, DAY / 24);
            p
        }),
        ("provider_status_24h", Report::ProviderStatus, {
            let mut p = Params::new(NOW, Window::Ms(DAY));
            p.set("provider", Value::opt_text(None))
                .set("by_model", Value::Bool(false));
            p
        }),
    ];
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    let engine = EngineOptions {
        fresh: false,
        ..EngineOptions::default()
    };
    for (name, report, params) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let ctx = session(&layout, &objects, &engine).expect("session");
                    reports::run(&ctx, *report, params).await.expect("report")
                })
            })
        });
    }
    g.bench_function("dashboard", |b| {
        b.iter(|| {
            rt.block_on(async {
                let ctx = session(&layout, &objects, &engine).expect("session");
                reports::dashboard::dashboard(&ctx, NOW)
                    .await
                    .expect("dashboard")
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
