//! The cost of recording one event in-process with `obsq::Recorder` (validate, sanitize, append).

use criterion::{Criterion, criterion_group, criterion_main};
use obsq::Recorder;
use obsq::model::Stream;
use obsq::store::Layout;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rec = Recorder::new(Layout::new(dir.path()));
    let event = r#"{"timestamp":"2026-11-28T09:51:50.000Z","skill":"code-review","agent":"dev","result":"failure","duration_ms":123.4,"cache_hit":false,"run_id":"run-1","cuj_id":"CUJ-001","params":{"repo":"acme/web","max_tokens":4096},"error":"Timeout after 30000ms","metadata":{"memory_delta_mb":2.5}}"#;
    c.bench_function("recorder_skill_event", |b| {
        b.iter(|| rec.record_json(Stream::Skill, event).expect("record"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
