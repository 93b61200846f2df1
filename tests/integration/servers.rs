//! Servers the tests start on 127.0.0.1 and stop by PID: an S3 server (Garage, a real one; moto,
//! an emulator that honours conditional writes) and obsq's own cluster processes. Installed by
//! `tests/setup.sh`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::bin;

/// A port nothing listens on now (and, for `pair`, the one after it too).
pub fn free_port(pair: bool) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().unwrap().port();
        drop(l);
        if p < 65000 && (!pair || TcpListener::bind(("127.0.0.1", p + 1)).is_ok()) {
            return p;
        }
    }
}

/// Waits until something accepts connections on `port`.
pub fn wait_port(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not listen on 127.0.0.1:{port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hex(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(n);
    s
}

/// Which S3 server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Garage 2.5: a production server; ignores conditional writes.
    Garage,
    /// moto: an emulator; honours them (atomically only when its requests are serialized,
    /// as `tests/servers/moto_serial.py` does).
    Moto,
}

/// A running S3 server with one bucket, `obsq-test`.
pub struct S3 {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    key: String,
    secret: String,
    region: String,
}

pub const BUCKET: &str = "obsq-test";

impl S3 {
    /// Starts a server of `kind` on a free port.
    pub fn start(kind: Kind) -> S3 {
        let dir = tempfile::tempdir().expect("temp dir");
        let (key, secret, region) = match kind {
            Kind::Garage => (format!("GK{}", hex(24)), hex(64), "garage".to_string()),
            Kind::Moto => ("testing".into(), "testing".into(), "us-east-1".into()),
        };
        let mut s = S3 {
            kind,
            port: free_port(false),
            dir,
            child: None,
            key,
            secret,
            region,
        };
        if kind == Kind::Garage {
            let (rpc, admin) = (free_port(false), free_port(false));
            let d = s.dir.path();
            let toml = format!(
                "metadata_dir = \"{m}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                 [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{port}\"\n\
                 root_domain = \".s3.garage.localhost\"\n[admin]\n\
                 api_bind_addr = \"127.0.0.1:{admin}\"\nadmin_token = \"{token}\"\n",
                m = d.join("meta").display(),
                data = d.join("data").display(),
                secret = hex(64),
                port = s.port,
                token = hex(32),
            );
            std::fs::write(d.join("garage.toml"), toml).unwrap();
        }
        s.resume();
        s
    }

    /// The `garage` binary (`cargo install` puts it in ~/.cargo/bin).
    fn garage() -> PathBuf {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let installed = home.join(".cargo/bin/garage");
        match installed.exists() {
            true => installed,
            false => PathBuf::from("garage"),
        }
    }

    /// Starts (or restarts, on the same port and data) the server process.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let mut cmd = match self.kind {
            Kind::Garage => {
                let mut c = Command::new(Self::garage());
                c.args(["server", "--single-node", "--default-bucket"])
                    .env("GARAGE_CONFIG_FILE", self.dir.path().join("garage.toml"))
                    .env("GARAGE_DEFAULT_ACCESS_KEY", &self.key)
                    .env("GARAGE_DEFAULT_SECRET_KEY", &self.secret)
                    .env("GARAGE_DEFAULT_BUCKET", BUCKET);
                c
            }
            Kind::Moto => {
                // Serving one request at a time: moto's own server can let two conditional
                // creates of one key both succeed (see the script).
                let script =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/moto_serial.py");
                let mut c = Command::new("python3");
                c.arg(script).arg(self.port.to_string());
                c
            }
        };
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start the {:?} S3 server ({e}): run tests/setup.sh",
                self.kind
            )
        });
        self.child = Some(child);
        wait_port(self.port, "the S3 server");
        if self.kind == Kind::Moto {
            self.http(&format!("PUT /{BUCKET} HTTP/1.1"));
        }
        self.wait_ready();
    }

    /// Kills the server process (SIGKILL); its data stays for [`Self::resume`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One raw HTTP request (moto takes unsigned ones); returns the status line.
    fn http(&self, request_line: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "{request_line}\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines().next().unwrap_or_default().to_string()
    }

    /// Waits until obsq can read the bucket (Garage makes its layout and key at start).
    fn wait_ready(&self) {
        let start = Instant::now();
        let cache = tempfile::tempdir().unwrap();
        loop {
            let out = self
                .cmd(
                    &self.url("ready"),
                    cache.path(),
                    &["doctor", "--format", "json"],
                )
                .output()
                .expect("run obsq");
            if out.status.success() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the S3 server did not answer within 60 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `s3://obsq-test/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The variables a client of this server needs.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            // A stopped server fails a command in seconds, not object_store's default minutes.
            ("OBSQ_S3_RETRY_TIMEOUT", "3s".into()),
        ]
    }

    /// obsq on the root `url`, as a machine whose cache directory is `cache`.
    pub fn cmd(&self, url: &str, cache: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--root").arg(url).args(args);
        c.env_remove("OBSQ_HOME")
            .env_remove("OBSQ_FAULT")
            .env_remove("OBSQ_CLUSTER")
            .env("XDG_CACHE_HOME", cache);
        for (k, v) in self.vars() {
            c.env(k, v);
        }
        c
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A machine writing to an S3 root: its own cache (catalog index, spool).
pub struct Machine<'a> {
    pub s3: &'a S3,
    pub url: String,
    pub cache: tempfile::TempDir,
}

impl<'a> Machine<'a> {
    /// A new machine on `s3`'s root `prefix`.
    pub fn new(s3: &'a S3, prefix: &str) -> Self {
        Machine {
            s3,
            url: s3.url(prefix),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        self.s3.cmd(&self.url, self.cache.path(), args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run obsq")
    }

    /// Runs obsq and asserts the exit code.
    pub fn run_ok(&self, args: &[&str], code: i32) -> Output {
        crate::util::expect_code(
            self.run(args),
            code,
            &format!("obsq --root {} {args:?}", self.url),
        )
    }

    /// Row count of a table, committed rows only.
    pub fn count(&self, table: &str) -> u64 {
        let sql = format!("SELECT count(*) FROM {table}");
        let out = self.run_ok(&["sql", &sql, "--format", "csv", "--no-fresh"], 0);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// A loopback Ballista cluster of obsq's own processes: a scheduler and two executors.
pub struct Cluster {
    pub url: String,
    children: Vec<Child>,
    _work: tempfile::TempDir,
}

impl Cluster {
    /// Starts the scheduler and two executors with `vars` (e.g. an S3 server's) in their
    /// environment, and waits until queries run on it.
    pub fn start(vars: &[(&'static str, String)]) -> Cluster {
        let work = tempfile::tempdir().unwrap();
        let sched = free_port(false);
        let spawn = |args: Vec<String>, log: &str| {
            let log = std::fs::File::create(work.path().join(log)).unwrap();
            let mut c = Command::new(bin());
            c.args(&args)
                .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null());
            c.spawn().expect("spawn a cluster process")
        };
        let mut children = vec![spawn(
            vec![
                "cluster".into(),
                "scheduler".into(),
                "--bind".into(),
                format!("127.0.0.1:{sched}"),
            ],
            "scheduler.log",
        )];
        wait_port(sched, "obsq cluster scheduler");
        for i in 0..2 {
            let p = free_port(true);
            let dir = work.path().join(format!("executor{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            children.push(spawn(
                vec![
                    "cluster".into(),
                    "executor".into(),
                    "--scheduler".into(),
                    format!("127.0.0.1:{sched}"),
                    "--bind".into(),
                    format!("127.0.0.1:{p}"),
                    "--work-dir".into(),
                    dir.display().to_string(),
                    "--slots".into(),
                    "2".into(),
                ],
                &format!("executor{i}.log"),
            ));
            wait_port(p, "obsq cluster executor");
        }
        let c = Cluster {
            url: format!("df://127.0.0.1:{sched}"),
            children,
            _work: work,
        };
        // Executors register with a heartbeat: wait until a query runs.
        let root = tempfile::tempdir().unwrap();
        let start = Instant::now();
        loop {
            let out = Command::new(bin())
                .args(["--root", root.path().to_str().unwrap(), "--cluster", &c.url])
                .args(["sql", "SELECT count(*) FROM cuj_runs", "--format", "csv"])
                .env_remove("OBSQ_HOME")
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the cluster did not run a query within 60 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
