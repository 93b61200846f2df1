//! Decoding throughput (JSONL bytes/s → Arrow batches), one group per stream, and Parquet
//! encoding of the decoded rows into a staging file (as ingest writes them).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obsq::generate::{GenerateOptions, generate};
use obsq::model::Stream;
use obsq::store::decode::decode_lines;
use obsq::store::objects::Objects;
use obsq::store::writer::{FileMeta, encode};

fn sample(stream: Stream) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(&GenerateOptions {
        rows: 200_000,
        seed: 1,
        out: dir.path().to_path_buf(),
        days: 1,
        end_ms: 20_000 * 86_400_000,
        dirty: 0.0,
        streams: vec![stream],
        shape: Default::default(),
    })
    .expect("generate");
    let mut out = Vec::new();
    for entry in walk(dir.path()) {
        out.extend(std::fs::read(entry).expect("read"));
    }
    out
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).expect("read_dir").flatten() {
        if e.path().is_dir() {
            v.extend(walk(&e.path()));
        } else {
            v.push(e.path());
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.sample_size(10);
    for stream in Stream::ALL {
        let data = sample(stream);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(stream.table(), |b| {
            b.iter(|| decode_lines(stream, &data, 0, 1))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    let data = sample(Stream::Skill);
    let decoded = decode_lines(Stream::Skill, &data, 0, 1);
    let batches: Vec<_> = decoded.batches.into_iter().map(|(_, b)| b).collect();
    g.throughput(Throughput::Bytes(data.len() as u64));
    let root = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let objects = Objects::local(root.path(), rt.handle().clone()).expect("root");
    g.bench_function("skill_invocations", |b| {
        let meta = FileMeta::new("bench", Stream::Skill, 0);
        b.iter(|| {
            let e =
                encode(&objects, Stream::Skill, &batches, "bench.parquet", &meta).expect("encode");
            std::fs::remove_file(objects.local_path(&e.staging)).expect("remove");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
