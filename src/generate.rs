//! `obsq generate`: deterministic, realistic JSONL in the original tools' layout and record
//! shapes — Zipf-popular skills, log-normal durations with heavy tails, templated failures,
//! progress runs with steps — for tests, benchmarks and the demo. A [`Shape`] turns it into the
//! other shapes real stores hold: params and metadata as JSON text or objects with few to
//! all-distinct values, multi-KB stack traces and non-ASCII or `\u`-escaped messages, optional
//! fields left out, progress steps by name, lines without `type` and `metadata`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Zipf};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::Stream;
use crate::model::timefmt::day_to_string;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Total lines over all selected streams.
    pub rows: u64,
    /// RNG seed: the same options give the same bytes.
    pub seed: u64,
    /// Output directory (gets `logs/` and `analytics/`).
    pub out: PathBuf,
    /// Days covered.
    pub days: u32,
    /// End of the covered span, epoch ms (exclusive): the end of `--end`'s day, or now.
    pub end_ms: i64,
    /// Fraction of lines made malformed.
    pub dirty: f64,
    /// Streams to generate.
    pub streams: Vec<Stream>,
    /// How the lines look.
    pub shape: Shape,
}

/// How `params` and `metadata` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsonForm {
    /// As the original tools wrote them: `params` JSON text, `metadata` an object.
    Tools,
    /// Both as JSON text (a string holding JSON).
    Text,
    /// Both as JSON objects.
    Object,
}

/// How many distinct `params` and `metadata` values there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cardinality {
    /// A handful per skill.
    Low,
    /// File paths, search queries, ids, numbers, nested lists; about 40 % empty.
    High,
    /// Every line distinct (a request id and a sequence number in each).
    Unique,
}

/// The shape of the generated lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// How params and metadata are written.
    pub json: JsonForm,
    /// Their cardinality.
    pub cardinality: Cardinality,
    /// Share of failures with a long text: a multi-KB stack trace, or a message with non-ASCII
    /// characters and `\u` escapes.
    pub long_text: f64,
    /// Share of lines in which each optional field is left out.
    pub absent: f64,
    /// Progress events name their steps (`"step":"install"`, `step_index`, `total_steps`,
    /// `percent`) instead of numbering them with a `percentage`.
    pub named_steps: bool,
    /// Skill lines without `type` and `metadata`, durations and latencies with three decimals.
    pub bare: bool,
    /// Each stream's lines in one file with the days interleaved line by line (an export
    /// sorted by another key, or many hosts' logs put together); skills in the first day's file.
    pub merged: bool,
    /// Lines as Python's `json.dumps` writes them by default (`, ` and `: ` between items, every
    /// character outside ASCII a `\u` escape), with words of other scripts in paths, queries
    /// and tags.
    pub python: bool,
}

impl Default for Shape {
    /// The original tools' shape.
    fn default() -> Self {
        Shape {
            json: JsonForm::Tools,
            cardinality: Cardinality::Low,
            long_text: 0.0,
            absent: 0.0,
            named_steps: false,
            bare: false,
            merged: false,
            python: false,
        }
    }
}

/// The named shapes of `--shape`, in `bench/compare.sh` order.
pub const SHAPES: [&str; 9] = [
    "tools",
    "objects",
    "unique",
    "long-text",
    "sparse",
    "named-steps",
    "foreign",
    "merged",
    "python",
];

impl Shape {
    /// A named shape: `tools` (the original tools'), `objects` (params and metadata as objects,
    /// high cardinality), `unique` (every params value distinct), `long-text` (20 % of failures
    /// with long or non-ASCII texts), `sparse` (optional fields absent in 30 % of lines),
    /// `named-steps`, and `foreign` (another generator's store: objects of high cardinality, no
    /// `type` or `metadata` on skill lines, three-decimal durations, named steps, 10 % absent
    /// fields, 5 % long texts), `merged` (the tools' lines, every day's in one file, the days
    /// interleaved line by line), and `python` (objects of high cardinality with words of other
    /// scripts, 20 % long texts, as Python's `json.dumps` writes them).
    pub fn named(name: &str) -> Option<Shape> {
        let d = Shape::default();
        Some(match name {
            "tools" => d,
            "objects" => Shape {
                json: JsonForm::Object,
                cardinality: Cardinality::High,
                ..d
            },
            "unique" => Shape {
                json: JsonForm::Object,
                cardinality: Cardinality::Unique,
                ..d
            },
            "long-text" => Shape {
                long_text: 0.2,
                ..d
            },
            "sparse" => Shape { absent: 0.3, ..d },
            "named-steps" => Shape {
                named_steps: true,
                ..d
            },
            "foreign" => Shape {
                json: JsonForm::Object,
                cardinality: Cardinality::High,
                long_text: 0.05,
                absent: 0.1,
                named_steps: true,
                bare: true,
                merged: false,
                python: false,
            },
            "merged" => Shape { merged: true, ..d },
            "python" => Shape {
                json: JsonForm::Object,
                cardinality: Cardinality::High,
                long_text: 0.2,
                python: true,
                ..d
            },
            _ => return None,
        })
    }

    fn is_tools(&self) -> bool {
        *self == Shape::default()
    }
}

/// Lines written per stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateReport {
    /// (stream, lines, malformed lines, bytes).
    pub streams: Vec<(Stream, u64, u64, u64)>,
}

const SKILLS: [&str; 40] = [
    "code-review",
    "scaffolder",
    "test-runner",
    "lint-fix",
    "doc-writer",
    "refactor",
    "debugger",
    "dependency-audit",
    "security-scan",
    "migration",
    "api-designer",
    "schema-gen",
    "perf-profiler",
    "log-analyzer",
    "commit-msg",
    "pr-summary",
    "changelog",
    "release-notes",
    "i18n",
    "a11y-check",
    "sql-optimizer",
    "k8s-deploy",
    "terraform-plan",
    "docker-build",
    "ci-triage",
    "flaky-hunter",
    "coverage",
    "benchmark",
    "bisect",
    "license-check",
    "spec-writer",
    "ux-review",
    "copy-edit",
    "diagram",
    "estimate",
    "planner",
    "research",
    "summarize",
    "translate",
    "retro",
];
const AGENTS: [&str; 10] = [
    "developer",
    "code-reviewer",
    "qa",
    "planner",
    "architect",
    "devops",
    "security",
    "analyst",
    "writer",
    "orchestrator",
];
const PROVIDERS: [(&str, &[&str]); 4] = [
    (
        "anthropic",
        &["claude-opus-4", "claude-sonnet-4", "claude-haiku-4"],
    ),
    ("openai", &["gpt-4o", "gpt-4.1", "o3"]),
    ("google", &["gemini-2.5-pro", "gemini-2.5-flash"]),
    ("mistral", &["mistral-large", "codestral"]),
];
const STEPS: [&str; 8] = [
    "Loading context",
    "Planning",
    "Running tests",
    "Applying changes",
    "Reviewing",
    "Validating",
    "Writing report",
    "Publishing",
];

/// Share of the rows each stream gets (skill, cuj, progress, provider).
const SHARES: [f64; 4] = [0.55, 0.15, 0.15, 0.15];
/// Rows generated per parallel chunk (fixed, so output does not depend on the thread count).
const CHUNK_ROWS: u64 = 50_000;
const MS_PER_DAY: i64 = 86_400_000;

/// Generates the files; returns what was written.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateReport> {
    if opts.streams.is_empty() || opts.days == 0 {
        return Err(Error::Usage(
            "generate needs at least one stream and one day".into(),
        ));
    }
    let total_share: f64 = opts.streams.iter().map(|s| SHARES[*s as usize]).sum();
    let start_ms = opts.end_ms - opts.days as i64 * MS_PER_DAY;
    let span_ms = opts.days as i64 * MS_PER_DAY;
    let mut report = GenerateReport::default();
    for (si, &stream) in opts.streams.iter().enumerate() {
        let rows = (opts.rows as f64 * SHARES[stream as usize] / total_share).round() as u64;
        let mut sink = Sink::new(&opts.out, stream)?;
        let chunks = rows.div_ceil(CHUNK_ROWS);
        let mut dirty_total = 0;
        // Chunks are generated in parallel a few at a time, then written in order.
        for group in (0..chunks).collect::<Vec<_>>().chunks(16) {
            let parts: Vec<ChunkOutput> = group
                .par_iter()
                .map(|&c| {
                    let lo = c * CHUNK_ROWS;
                    let hi = (lo + CHUNK_ROWS).min(rows);
                    let seed =
                        opts.seed ^ ((si as u64 + 1) << 56) ^ c.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    Chunk::new(stream, seed, opts.dirty, &opts.shape)
                        .run(lo, hi, rows, start_ms, span_ms)
                })
                .collect();
            for (days, dirty) in parts {
                dirty_total += dirty;
                for (day, bytes) in days {
                    sink.write(day, &bytes)?;
                }
            }
        }
        let bytes = sink.finish()?;
        report.streams.push((stream, rows, dirty_total, bytes));
    }
    Ok(report)
}

/// Where one stream's lines go: one file per UTC day for skills, one file otherwise.
struct Sink {
    dir: PathBuf,
    stream: Stream,
    current: Option<(i32, BufWriter<File>)>,
    bytes: u64,
}

impl Sink {
    fn new(out: &Path, stream: Stream) -> Result<Self> {
        let dir = out.join(match stream {
            Stream::Skill | Stream::Progress => "logs",
            Stream::Cuj | Stream::Provider => "analytics",
        });
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        Ok(Sink {
            dir,
            stream,
            current: None,
            bytes: 0,
        })
    }

    fn path(&self, day: i32) -> PathBuf {
        self.dir.join(match self.stream {
            Stream::Skill => format!("skill-invocations-{}.jsonl", day_to_string(day)),
            Stream::Cuj => "cuj-metrics.jsonl".into(),
            Stream::Progress => "progress.jsonl".into(),
            Stream::Provider => "provider-health.jsonl".into(),
        })
    }

    fn write(&mut self, day: i32, bytes: &[u8]) -> Result<()> {
        let key = if self.stream == Stream::Skill { day } else { 0 };
        if self.current.as_ref().map(|c| c.0) != Some(key) {
            self.flush_current()?;
            let path = self.path(day);
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io("open", &path, e))?;
            self.current = Some((key, BufWriter::with_capacity(1 << 20, f)));
        }
        if let Some((_, w)) = &mut self.current {
            w.write_all(bytes)
                .map_err(|e| Error::io("write", &self.dir, e))?;
        }
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn flush_current(&mut self) -> Result<()> {
        if let Some((_, mut w)) = self.current.take() {
            w.flush().map_err(|e| Error::io("write", &self.dir, e))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<u64> {
        self.flush_current()?;
        Ok(self.bytes)
    }
}

/// Lines of one chunk grouped by UTC day, and how many of them were spoiled.
type ChunkOutput = (Vec<(i32, Vec<u8>)>, u64);

struct Chunk {
    stream: Stream,
    shape: Shape,
    /// The next line's number within the stream (for `Cardinality::Unique`).
    line_no: u64,
    rng: Xoshiro256PlusPlus,
    dirty: f64,
    zipf: Zipf<f64>,
    out: Vec<(i32, Vec<u8>)>,
    dirty_count: u64,
    run_no: u64,
    run_step: u32,
    run_steps: u32,
}

impl Chunk {
    fn new(stream: Stream, seed: u64, dirty: f64, shape: &Shape) -> Self {
        Chunk {
            stream,
            shape: shape.clone(),
            line_no: 0,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            dirty,
            zipf: Zipf::new(SKILLS.len() as f64, 1.1).expect("valid Zipf parameters"),
            out: Vec::new(),
            dirty_count: 0,
            run_no: seed % 1_000_000,
            run_step: 0,
            run_steps: 0,
        }
    }

    fn run(mut self, lo: u64, hi: u64, rows: u64, start_ms: i64, span_ms: i64) -> ChunkOutput {
        let mut line = String::with_capacity(512);
        let days = (span_ms / MS_PER_DAY).max(1) as u64;
        for i in lo..hi {
            // Evenly spread, slightly jittered, never decreasing within a chunk; merged: line i
            // is of day i % days, each day's lines in time order.
            let ts = start_ms
                + if self.shape.merged {
                    let per_day = rows.div_ceil(days);
                    (((i % days) * per_day + i / days) as i128 * span_ms as i128
                        / (per_day * days) as i128) as i64
                } else {
                    ((i as i128 * span_ms as i128) / rows.max(1) as i128) as i64
                }
                + self.rng.random_range(0..200);
            line.clear();
            self.line_no = i;
            match self.stream {
                Stream::Skill => self.skill(ts, &mut line),
                Stream::Cuj => self.cuj(ts, &mut line),
                Stream::Progress => self.progress(ts, &mut line),
                Stream::Provider => self.provider(ts, &mut line),
            }
            if self.shape.python {
                line = python_dumps(&line);
            }
            let mut bytes = line.as_bytes().to_vec();
            if self.dirty > 0.0 && self.rng.random_bool(self.dirty.min(1.0)) {
                bytes = self.spoil(&line);
                self.dirty_count += 1;
            }
            bytes.push(b'\n');
            let day = if self.shape.merged { start_ms } else { ts }.div_euclid(MS_PER_DAY) as i32;
            match self.out.last_mut() {
                Some((d, buf)) if *d == day => buf.extend_from_slice(&bytes),
                _ => self.out.push((day, bytes)),
            }
        }
        (self.out, self.dirty_count)
    }

    fn spoil(&mut self, line: &str) -> Vec<u8> {
        match self.rng.random_range(0..6) {
            0 => line.as_bytes()[..line.len() / 2].to_vec(),
            1 => b"null".to_vec(),
            2 => b"42".to_vec(),
            3 => line.replace("timestamp\":", "when\":").into_bytes(),
            4 => {
                let mut b = line.as_bytes().to_vec();
                let mid = b.len() / 2;
                b[mid] = 0xff;
                b
            }
            _ => match self.stream {
                Stream::Skill | Stream::Cuj => line
                    .replacen("\"duration_ms\":", "\"duration_ms\":\"abc\",\"x\":", 1)
                    .into_bytes(),
                Stream::Provider => line
                    .replacen("\"success\":", "\"success\":\"maybe\",\"x\":", 1)
                    .into_bytes(),
                Stream::Progress => line
                    .replacen("\"percentage\":", "\"percentage\":\"lots\",\"x\":", 1)
                    .into_bytes(),
            },
        }
    }

    fn lognormal(&mut self, median_ms: f64, sigma: f64) -> f64 {
        let d = LogNormal::new(median_ms.ln(), sigma).expect("valid log-normal parameters");
        let mut v = d.sample(&mut self.rng);
        if self.rng.random_bool(0.01) {
            v *= 10.0; // the heavy tail: stalls, retries, cold caches
        }
        v
    }

    fn error_text(&mut self) -> String {
        let r = &mut self.rng;
        let n = r.random_range(1..=12);
        match r.random_range(0..30) {
            0 => format!(
                "Timeout after {}ms",
                [30000, 60000, 12000, 600000][r.random_range(0..4)]
            ),
            1 => format!(
                "Rate limit exceeded (429), retry after {}s",
                r.random_range(1..60)
            ),
            2 => format!("Step {n} failed: exit code {}", 100 + n),
            3 => format!(
                "ENOENT: no such file or directory, open '/home/dev/project/src/mod{}.ts'",
                r.random_range(1..500)
            ),
            4 => format!(
                "Request req_{:012x} failed: 503 Service Unavailable",
                r.random::<u64>() >> 16
            ),
            5 => format!(
                "Connection reset by peer (10.0.{}.{}:443)",
                r.random_range(0..255),
                r.random_range(1..255)
            ),
            6 => format!(
                "Skill crashed: TypeError: Cannot read properties of undefined (reading '{}')",
                ["map", "length", "id"][r.random_range(0..3)]
            ),
            7 => format!("Test suite failed: {} of {} tests failed", n, 40 + n * 3),
            8 => format!("Out of memory: heap limit {} MB reached", 512 * n),
            9 => format!(
                "Context window exceeded: {} tokens > 200000",
                200000 + r.random_range(1..50000)
            ),
            10 => format!(
                "Git push rejected for run-{:05}: non-fast-forward",
                r.random_range(0..99999)
            ),
            11 => format!(
                "Lint errors: {} problems ({} errors, {} warnings)",
                n * 3,
                n,
                n * 2
            ),
            12 => format!("Tool call denied by policy for session {}", uuid_like(r)),
            13 => format!(
                "Invalid JSON in model output at position {}",
                r.random_range(10..9000)
            ),
            14 => format!(
                "Upstream 502 from https://api.example.com/v{}/jobs/{}",
                n % 3 + 1,
                r.random_range(1000..99999)
            ),
            15 => format!("Deadline exceeded after {}s", r.random_range(30..900)),
            16 => format!(
                "Migration {} failed: relation \"users_{}\" already exists",
                r.random_range(100..999),
                n
            ),
            17 => format!("Docker build failed at layer {n}: exit status 1"),
            18 => format!(
                "Coverage {}.{}% below threshold 80%",
                r.random_range(40..79),
                r.random_range(0..9)
            ),
            19 => format!(
                "Permission denied: /var/lib/agents/cache/{:08x}.lock",
                r.random::<u32>()
            ),
            20 => format!(
                "Assertion failed: expected {} got {}",
                n,
                n + r.random_range(1..5)
            ),
            21 => format!(
                "Model refused: content policy (ticket #{})",
                r.random_range(10000..99999)
            ),
            22 => format!(
                "Dependency resolution failed: {}@^{}.0.0 not found",
                ["left-pad", "lodash", "react"][r.random_range(0..3)],
                n
            ),
            23 => format!(
                "Process killed by signal {}",
                [9, 15, 11][r.random_range(0..3)]
            ),
            24 => format!("Disk quota exceeded on /mnt/vol{}", r.random_range(1..9)),
            25 => format!("Auth failed for user{}@example.com", r.random_range(1..300)),
            26 => format!("Checksum mismatch for artifact {:016x}", r.random::<u64>()),
            27 => format!("Retries exhausted after {} attempts", n),
            28 => format!("Terraform plan drift: {} resources to change", n),
            _ => format!(
                "Workflow step {} ({}) failed: assertion mismatch",
                n,
                STEPS[r.random_range(0..STEPS.len())]
            ),
        }
    }

    /// Whether to leave an optional field out (no random draw unless the shape asks for it).
    fn absent(&mut self) -> bool {
        self.shape.absent > 0.0 && self.rng.random_bool(self.shape.absent.min(1.0))
    }

    fn skill(&mut self, ts: i64, s: &mut String) {
        let k = self.zipf.sample(&mut self.rng) as usize - 1;
        let agent = AGENTS[(k + self.rng.random_range(0..3)) % AGENTS.len()];
        let fail = self.rng.random_bool(0.05 + (k % 5) as f64 * 0.02);
        let raw = self.lognormal(80.0 + 40.0 * (k % 7) as f64, 0.9);
        let dur = if self.shape.bare {
            round3(raw)
        } else {
            round2(raw)
        };
        let cache = !fail && self.rng.random_bool(0.3);
        let run = self.rng.random_range(0..50_000);
        let cuj = self.rng.random_range(1..=60);
        let has_cuj = self.rng.random_bool(0.7);
        s.push_str("{\"timestamp\":\"");
        push_iso(s, ts);
        s.push('"');
        if !self.shape.bare {
            s.push_str(",\"type\":\"skill_invocation\"");
        }
        s.push_str(",\"skill\":\"");
        s.push_str(SKILLS[k]);
        s.push('"');
        if !self.absent() {
            s.push_str(",\"params\":");
            self.push_params(s, k);
        }
        s.push_str(",\"result\":\"");
        s.push_str(if fail { "failure" } else { "success" });
        s.push('"');
        if !self.absent() {
            s.push_str(",\"duration_ms\":");
            push_num(s, dur);
        }
        if !self.absent() {
            s.push_str(",\"cache_hit\":");
            s.push_str(if cache { "true" } else { "false" });
        }
        if !self.absent() {
            s.push_str(",\"agent\":\"");
            s.push_str(agent);
            s.push('"');
        }
        if !self.absent() {
            s.push_str(",\"run_id\":\"run-");
            push_padded(s, run, 5);
            s.push('"');
        }
        if !self.absent() {
            s.push_str(",\"cuj_id\":");
            if has_cuj {
                s.push_str("\"CUJ-");
                push_padded(s, cuj, 3);
                s.push('"');
            } else {
                s.push_str("null");
            }
        }
        self.push_error(s, fail);
        if !self.shape.bare && !self.absent() {
            s.push_str(",\"metadata\":");
            if self.shape.is_tools() {
                s.push_str("{\"memory_delta_mb\":");
                push_num(s, round2(self.rng.random_range(0.0..64.0)));
                s.push_str(",\"cpu_user_ms\":");
                push_int(s, self.rng.random_range(1..2000));
                s.push('}');
            } else {
                let mut m = serde_json::Map::new();
                m.insert(
                    "memory_delta_mb".into(),
                    json_num(round2(self.rng.random_range(0.0..64.0))),
                );
                m.insert("cpu_user_ms".into(), self.rng.random_range(1..2000).into());
                self.spread(&mut m);
                self.push_json(s, serde_json::Value::Object(m), false);
            }
        }
        s.push('}');
    }

    /// `params`: the original tools' text (a handful of values per skill), or a value of the
    /// shape's cardinality in its form.
    fn push_params(&mut self, s: &mut String, k: usize) {
        if self.shape.json == JsonForm::Tools && self.shape.cardinality == Cardinality::Low {
            s.push_str("\"{\\\"repo\\\":\\\"acme/svc-");
            push_int(s, (k % 13) as i64);
            s.push_str("\\\",\\\"max_tokens\\\":");
            push_int(s, 1024 << (k % 4));
            s.push_str("}\"");
            return;
        }
        let v = self.params_value(k);
        self.push_json(s, v, true);
    }

    /// Writes `v` as an object or as JSON text, as the shape says (`params`: text in the
    /// original tools' form; `metadata`: an object there).
    fn push_json(&self, s: &mut String, v: serde_json::Value, params: bool) {
        let text = match self.shape.json {
            JsonForm::Text => true,
            JsonForm::Tools => params,
            JsonForm::Object => false,
        };
        if text {
            s.push_str(&serde_json::Value::String(v.to_string()).to_string());
        } else {
            s.push_str(&v.to_string());
        }
    }

    fn params_value(&mut self, k: usize) -> serde_json::Value {
        use serde_json::{Value, json};
        let card = self.shape.cardinality;
        if card == Cardinality::Low {
            return json!({"repo": format!("acme/svc-{}", k % 13), "max_tokens": 1024 << (k % 4)});
        }
        let r = &mut self.rng;
        let mut m = serde_json::Map::new();
        if card == Cardinality::High && r.random_bool(0.4) {
            return Value::Object(m);
        }
        let words: &[&str] = if self.shape.python {
            &WORDS_INTL
        } else {
            &WORDS
        };
        let word = |r: &mut Xoshiro256PlusPlus| words[r.random_range(0..words.len())];
        let path = |r: &mut Xoshiro256PlusPlus| {
            format!(
                "/home/dev/project/{}/{}/{}{}.{}",
                ["src", "lib", "test", "packages/core/src", "apps/web"][r.random_range(0..5)],
                word(r),
                word(r),
                r.random_range(0..5000),
                ["ts", "rs", "py", "go", "md", "json"][r.random_range(0..6)]
            )
        };
        match r.random_range(0..4) {
            0 => {
                m.insert("path".into(), path(r).into());
                m.insert("line".into(), r.random_range(1..4000).into());
            }
            1 => {
                let n = r.random_range(2..7);
                let q: Vec<&str> = (0..n).map(|_| word(r)).collect();
                m.insert("query".into(), q.join(" ").into());
                m.insert("limit".into(), (10 * r.random_range(1..20)).into());
                m.insert("filters".into(), {
                    let lang = ["ts", "rust", "python"][r.random_range(0..3)];
                    json!({"lang": lang, "since_days": r.random_range(1..365)})
                });
            }
            2 => {
                let n = r.random_range(1..7);
                let files: Vec<Value> = (0..n).map(|_| path(r).into()).collect();
                m.insert("files".into(), files.into());
                m.insert("recursive".into(), r.random_bool(0.5).into());
            }
            _ => {
                m.insert("id".into(), uuid_like(r).into());
                m.insert(
                    "options".into(),
                    json!({
                        "depth": r.random_range(1..9),
                        "exclude": ["node_modules", "target", word(r)],
                        "retries": r.random_range(0..4),
                    }),
                );
                m.insert(
                    "temperature".into(),
                    json_num(round2(r.random_range(0.0..1.5))),
                );
            }
        }
        if card == Cardinality::Unique {
            m.insert("request_id".into(), uuid_like(r).into());
            m.insert("seq".into(), self.line_no.into());
        }
        Value::Object(m)
    }

    /// High-cardinality extras of `metadata` (none for `Cardinality::Low`).
    fn spread(&mut self, m: &mut serde_json::Map<String, serde_json::Value>) {
        if self.shape.cardinality == Cardinality::Low {
            return;
        }
        let r = &mut self.rng;
        m.insert(
            "host".into(),
            format!("worker-{}", r.random_range(0..500)).into(),
        );
        m.insert(
            "trace_id".into(),
            format!("{:032x}", r.random::<u128>()).into(),
        );
        let words: &[&str] = if self.shape.python {
            &WORDS_INTL
        } else {
            &WORDS
        };
        let n = r.random_range(0..4);
        let tags: Vec<serde_json::Value> = (0..n)
            .map(|_| words[r.random_range(0..words.len())].into())
            .collect();
        m.insert("tags".into(), tags.into());
    }

    /// `,"error":…` — a message for a failure (sometimes a long text), else null (left out
    /// when the shape drops optional fields).
    fn push_error(&mut self, s: &mut String, fail: bool) {
        if !fail && self.absent() {
            return;
        }
        s.push_str(",\"error\":");
        if !fail {
            s.push_str("null");
        } else if self.shape.long_text > 0.0 && self.rng.random_bool(self.shape.long_text.min(1.0))
        {
            self.push_long_text(s);
        } else {
            let e = self.error_text();
            s.push_str(&serde_json::Value::String(e).to_string());
        }
    }

    /// A multi-KB stack trace, or a message with non-ASCII characters and `\u` escapes.
    fn push_long_text(&mut self, s: &mut String) {
        if self.rng.random_bool(0.5) {
            let mut t = self.error_text();
            let frames = self.rng.random_range(30..90);
            for _ in 0..frames {
                let r = &mut self.rng;
                t.push_str(&format!(
                    "\n    at {}.{} (/home/dev/project/node_modules/{}/dist/{}.js:{}:{})",
                    WORDS[r.random_range(0..WORDS.len())],
                    WORDS[r.random_range(0..WORDS.len())],
                    WORDS[r.random_range(0..WORDS.len())],
                    WORDS[r.random_range(0..WORDS.len())],
                    r.random_range(1..3000),
                    r.random_range(1..120)
                ));
            }
            s.push_str(&serde_json::Value::String(t).to_string());
        } else {
            s.push_str(NON_ASCII[self.rng.random_range(0..NON_ASCII.len())]);
        }
    }

    fn cuj(&mut self, ts: i64, s: &mut String) {
        let c = self.rng.random_range(1..=60u64);
        let fail = self.rng.random_bool(0.05 + (c % 6) as f64 * 0.02);
        let raw = self.lognormal(2000.0 + 300.0 * (c % 10) as f64, 0.7);
        let dur = if self.shape.bare {
            round3(raw)
        } else {
            raw.round()
        };
        s.push_str("{\"timestamp\":\"");
        push_iso(s, ts);
        s.push_str("\",\"cuj_id\":\"CUJ-");
        push_padded(s, c, 3);
        s.push_str("\",\"success\":");
        s.push_str(if fail { "false" } else { "true" });
        if !self.absent() {
            s.push_str(",\"duration_ms\":");
            push_num(s, dur);
        }
        self.push_error(s, fail);
        if !self.absent() {
            s.push_str(",\"metadata\":");
            if self.shape.is_tools() {
                s.push_str("{\"agents\":[\"planner\",\"developer\"],\"warnings\":");
                push_int(s, self.rng.random_range(0..4));
                s.push('}');
            } else {
                let mut m = serde_json::Map::new();
                m.insert("agents".into(), serde_json::json!(["planner", "developer"]));
                m.insert("warnings".into(), self.rng.random_range(0..4).into());
                self.spread(&mut m);
                self.push_json(s, serde_json::Value::Object(m), false);
            }
        }
        s.push('}');
    }

    fn progress(&mut self, ts: i64, s: &mut String) {
        if self.run_step >= self.run_steps {
            self.run_no += 1;
            self.run_step = 0;
            self.run_steps = self.rng.random_range(3..9);
        }
        let (step, status, pct) = if self.run_step == 0 {
            (None, "pending", 0.0)
        } else if self.run_step + 1 == self.run_steps {
            if self.rng.random_bool(0.1) {
                (
                    Some(self.run_step),
                    "failed",
                    self.run_step as f64 * 100.0 / self.run_steps as f64,
                )
            } else {
                (Some(self.run_steps), "completed", 100.0)
            }
        } else {
            let st = if self.rng.random_bool(0.5) {
                "running"
            } else {
                "completed"
            };
            (
                Some(self.run_step),
                st,
                (self.run_step as f64 * 100.0 / self.run_steps as f64).round(),
            )
        };
        let msg = if self.run_step == 0 {
            "Starting workflow"
        } else {
            STEPS[self.run_step as usize % STEPS.len()]
        };
        self.run_step += 1;
        s.push_str("{\"timestamp\":");
        push_int(s, ts);
        if !self.absent() {
            s.push_str(",\"iso_timestamp\":\"");
            push_iso(s, ts);
            s.push('"');
        }
        s.push_str(",\"run_id\":\"run-");
        push_padded(s, self.run_no, 6);
        s.push('"');
        if self.shape.named_steps {
            let i = step.unwrap_or(0);
            if !self.absent() {
                s.push_str(",\"step\":\"");
                s.push_str(STEP_NAMES[i as usize % STEP_NAMES.len()]);
                s.push('"');
            }
            s.push_str(",\"step_index\":");
            push_int(s, i as i64);
            s.push_str(",\"total_steps\":");
            push_int(s, self.run_steps as i64);
        } else if !self.absent() {
            s.push_str(",\"step\":");
            match step {
                Some(n) => push_int(s, n as i64),
                None => s.push_str("null"),
            }
        }
        s.push_str(",\"status\":\"");
        s.push_str(status);
        s.push('"');
        if !self.absent() {
            s.push_str(if self.shape.named_steps {
                ",\"percent\":"
            } else {
                ",\"percentage\":"
            });
            push_num(s, if self.shape.bare { round3(pct) } else { pct });
        }
        if !self.absent() {
            s.push_str(",\"message\":");
            if self.shape.long_text > 0.0 && self.rng.random_bool(self.shape.long_text.min(1.0)) {
                s.push_str(NON_ASCII[self.rng.random_range(0..NON_ASCII.len())]);
            } else {
                s.push('"');
                s.push_str(msg);
                s.push('"');
            }
        }
        if !self.absent() {
            s.push_str(",\"metadata\":{}");
        }
        s.push('}');
    }

    fn provider(&mut self, ts: i64, s: &mut String) {
        let p = self.rng.random_range(0..PROVIDERS.len());
        let (name, models) = PROVIDERS[p];
        let model = models[self.rng.random_range(0..models.len())];
        let fail = self.rng.random_bool([0.03, 0.06, 0.1, 0.15][p]);
        let raw = self.lognormal([1200.0, 1500.0, 1800.0, 900.0][p], 0.6);
        let lat = if self.shape.bare {
            round3(raw)
        } else {
            raw.round()
        };
        s.push_str("{\"timestamp\":");
        push_int(s, ts);
        if !self.absent() {
            s.push_str(",\"iso_timestamp\":\"");
            push_iso(s, ts);
            s.push('"');
        }
        s.push_str(",\"provider\":\"");
        s.push_str(name);
        s.push('"');
        if !self.absent() {
            s.push_str(",\"model\":\"");
            s.push_str(model);
            s.push('"');
        }
        s.push_str(",\"success\":");
        s.push_str(if fail { "false" } else { "true" });
        s.push_str(",\"latency_ms\":");
        push_num(s, lat);
        self.push_error(s, fail);
        if !self.absent() {
            s.push_str(",\"metadata\":{}");
        }
        s.push('}');
    }
}

/// Words for paths, queries, tags and stack frames.
const WORDS: [&str; 24] = [
    "parser", "router", "cache", "session", "billing", "search", "index", "auth", "render",
    "queue", "worker", "schema", "client", "server", "config", "metrics", "export", "import",
    "report", "upload", "profile", "invoice", "graph", "token",
];

/// [`WORDS`] with about half in other scripts (`Shape::python`).
const WORDS_INTL: [&str; 24] = [
    "parser",
    "キャッシュ",
    "sesión",
    "billing",
    "搜索",
    "índice",
    "auth",
    "рендер",
    "queue",
    "작업자",
    "schema",
    "клиент",
    "server",
    "配置",
    "métricas",
    "export",
    "importación",
    "報告",
    "upload",
    "profil",
    "facture",
    "图表",
    "token",
    "déploiement🚀",
];

/// A compact JSON line as Python's `json.dumps` writes it by default: `, ` and `: ` between
/// items, and every character outside ASCII as a `\u` escape in lower-case hex (a surrogate
/// pair above U+FFFF).
fn python_dumps(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 8);
    let (mut in_str, mut escaped) = (false, false);
    for c in line.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        } else {
            out.push(c);
            match c {
                '"' => in_str = true,
                ',' | ':' => out.push(' '),
                _ => {}
            }
        }
    }
    out
}

/// Progress step names (`Shape::named_steps`).
const STEP_NAMES: [&str; 8] = [
    "install", "build", "lint", "test", "package", "deploy", "verify", "cleanup",
];

/// Messages as JSON string literals: raw non-ASCII text and `\u` escapes (a surrogate pair
/// among them).
const NON_ASCII: [&str; 4] = [
    r#""Échec de l'étape 3 : fichier « config.yaml » introuvable""#,
    r#""構成ファイルが見つかりません: /srv/アプリ/設定.json""#,
    r#""caf\u00e9 \u2014 d\u00e9ploiement interrompu \ud83d\ude80 (r\u00e9essai 2/3)""#,
    r#""Ошибка: превышено время ожидания \u2192 повтор через 30 с""#,
];

fn json_num(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// `n` clean lines of one stream in `shape` (for tests of the parser on every shape).
pub fn sample(stream: Stream, shape: &Shape, n: u64) -> Vec<String> {
    let (parts, _) = Chunk::new(stream, 11, 0.0, shape).run(0, n, n, 1_795_000_000_000, 86_400_000);
    parts
        .iter()
        .flat_map(|(_, b)| {
            String::from_utf8_lossy(b)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn uuid_like(r: &mut Xoshiro256PlusPlus) -> String {
    let a: u128 = r.random();
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn push_int(s: &mut String, v: i64) {
    s.push_str(itoa::Buffer::new().format(v));
}

fn push_padded(s: &mut String, v: u64, width: usize) {
    let mut b = itoa::Buffer::new();
    let t = b.format(v);
    for _ in t.len()..width {
        s.push('0');
    }
    s.push_str(t);
}

fn push_num(s: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        push_int(s, v as i64);
    } else {
        s.push_str(ryu::Buffer::new().format(v));
    }
}

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (the hot path of generation; chrono's formatter is slower).
fn push_iso(s: &mut String, ms: i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, se, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    push_padded(s, y as u64, 4);
    s.push('-');
    push_padded(s, m as u64, 2);
    s.push('-');
    push_padded(s, d as u64, 2);
    s.push('T');
    push_padded(s, h as u64, 2);
    s.push(':');
    push_padded(s, mi as u64, 2);
    s.push(':');
    push_padded(s, se as u64, 2);
    s.push('.');
    push_padded(s, milli as u64, 3);
    s.push('Z');
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::timefmt::iso_ms;

    #[test]
    fn iso_formatting_matches_chrono() {
        for ms in [0, 1_795_857_777_123, 951_782_400_000, -1] {
            let mut s = String::new();
            push_iso(&mut s, ms);
            assert_eq!(s, iso_ms(ms));
        }
    }

    #[test]
    fn every_clean_line_of_every_shape_parses() {
        for name in SHAPES {
            let shape = Shape::named(name).unwrap();
            for stream in Stream::ALL {
                for line in sample(stream, &shape, 2000) {
                    crate::model::parse_line(stream, line.as_bytes())
                        .unwrap_or_else(|e| panic!("{name} {stream}: {e}: {line}"));
                    serde_json::from_str::<serde_json::Value>(&line)
                        .unwrap_or_else(|e| panic!("{name} {stream}: {e}: {line}"));
                }
            }
        }
    }

    /// Python's own output for the same value (`json.dumps(v)`, default arguments).
    #[test]
    fn python_dumps_writes_what_json_dumps_writes() {
        let compact = r#"{"a":"é, x: 🚀","b":[1,2.5,null,true],"c":{"d":"\\\"q\""},"e":"日本"}"#;
        let python = r#"{"a": "\u00e9, x: \ud83d\ude80", "b": [1, 2.5, null, true], "c": {"d": "\\\"q\""}, "e": "\u65e5\u672c"}"#;
        assert_eq!(python_dumps(compact), python);
        let lines = sample(Stream::Skill, &Shape::named("python").unwrap(), 2000);
        assert!(lines.iter().all(|l| l.is_ascii() && l.contains("\": ")));
        assert!(lines.iter().filter(|l| l.contains("\\u")).count() > 200);
    }

    #[test]
    fn shapes_are_what_they_say() {
        let lines = |name: &str, stream| sample(stream, &Shape::named(name).unwrap(), 3000);
        let tools = lines("tools", Stream::Skill);
        assert!(
            tools
                .iter()
                .all(|l| l.contains("\"params\":\"{") && l.contains("\"type\""))
        );
        let objects = lines("objects", Stream::Skill);
        let distinct = |ls: &[String]| {
            ls.iter()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["params"].to_string()
                })
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        assert!(distinct(&tools) <= 13 * 4, "{}", distinct(&tools));
        assert!(distinct(&objects) > 1000, "{}", distinct(&objects));
        assert_eq!(distinct(&lines("unique", Stream::Skill)), 3000);
        let empty = objects
            .iter()
            .filter(|l| l.contains("\"params\":{}"))
            .count();
        assert!((900..1500).contains(&empty), "about 40 % empty: {empty}");
        let long = lines("long-text", Stream::Cuj);
        assert!(long.iter().any(|l| l.len() > 3000));
        assert!(long.iter().any(|l| l.contains("\\u00e9")));
        let sparse = lines("sparse", Stream::Provider);
        assert!(sparse.iter().filter(|l| !l.contains("\"model\"")).count() > 600);
        let steps = lines("named-steps", Stream::Progress);
        assert!(
            steps
                .iter()
                .all(|l| l.contains("\"total_steps\"") && !l.contains("percentage"))
        );
        let foreign = lines("foreign", Stream::Skill);
        assert!(
            foreign
                .iter()
                .all(|l| !l.contains("\"type\"") && !l.contains("\"metadata\""))
        );
    }

    #[test]
    fn merged_interleaves_the_days_in_one_file_and_covers_each_once() {
        let run = |shape: &Shape| {
            // 30 whole days from a midnight.
            Chunk::new(Stream::Skill, 7, 0.0, shape).run(
                0,
                3000,
                3000,
                20_775 * MS_PER_DAY,
                30 * MS_PER_DAY,
            )
        };
        let (parts, _) = run(&Shape::named("merged").unwrap());
        assert_eq!(parts.len(), 1, "one file");
        let days: Vec<i64> = parts[0]
            .1
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                crate::model::parse_line(Stream::Skill, l)
                    .unwrap()
                    .ts
                    .div_euclid(MS_PER_DAY)
            })
            .collect();
        assert_eq!(days.len(), 3000);
        assert_ne!(days[0], days[1], "consecutive lines are of different days");
        let per_day = |d: &[i64]| {
            let mut m = std::collections::BTreeMap::new();
            for x in d {
                *m.entry(*x).or_insert(0) += 1;
            }
            m
        };
        let (tools, _) = run(&Shape::default());
        let tool_days: Vec<i64> = tools
            .iter()
            .flat_map(|(day, b)| vec![*day as i64; b.iter().filter(|c| **c == b'\n').count()])
            .collect();
        assert_eq!(per_day(&days).len(), 30);
        assert_eq!(
            per_day(&days),
            per_day(&tool_days),
            "the same rows per day as in order"
        );
    }

    #[test]
    fn every_clean_line_parses() {
        for stream in Stream::ALL {
            let (parts, dirty) = Chunk::new(stream, 7, 0.0, &Shape::default()).run(
                0,
                2000,
                2000,
                1_795_000_000_000,
                86_400_000 * 3,
            );
            assert_eq!(dirty, 0);
            for (_, bytes) in parts {
                for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    crate::model::parse_line(stream, line).unwrap_or_else(|e| {
                        panic!("{stream}: {e}: {}", String::from_utf8_lossy(line))
                    });
                }
            }
        }
    }
}
