//! `obsq cluster scheduler|executor`: the processes of a Ballista cluster, started through
//! Ballista's scheduler and executor libraries with obsq's codec, functions and object stores
//! (`engine::cluster`), so that `--cluster` runs every report and ad-hoc query there.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::cli::ClusterCmd;
use crate::engine::cluster::{
    MAX_MESSAGE_BYTES, ObsqCodec, function_registry, runtime_env, scheduler_state,
};
use crate::error::{Error, Result};

/// Runs a cluster process until it is stopped.
pub fn run(process: ClusterCmd) -> Result<u8> {
    // A cluster process is a daemon: its log on standard error is where Ballista says why a job,
    // stage or task failed. `RUST_LOG` chooses the level (e.g. `RUST_LOG=info`); warnings by default.
    crate::render::log::install();
    let rt = super::runtime()?;
    match process {
        ClusterCmd::Scheduler { bind } => rt.block_on(scheduler(&bind))?,
        ClusterCmd::Executor {
            scheduler,
            bind,
            work_dir,
            slots,
        } => rt.block_on(executor(&scheduler, &bind, work_dir, slots))?,
    }
    Ok(0)
}

/// `HOST:PORT` of a flag, resolved.
fn address(flag: &str, value: &str) -> Result<SocketAddr> {
    value
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {value}: not an address; write HOST:PORT, e.g. 127.0.0.1:50050"
            ))
        })
}

fn ballista(action: &'static str) -> impl FnOnce(ballista_core::error::BallistaError) -> Error {
    move |e| Error::Cluster {
        action,
        message: e.to_string(),
    }
}

async fn scheduler(bind: &str) -> Result<()> {
    let addr = address("--bind", bind)?;
    let config = SchedulerConfig {
        bind_host: addr.ip().to_string(),
        bind_port: addr.port(),
        external_host: addr.ip().to_string(),
        grpc_server_max_decoding_message_size: MAX_MESSAGE_BYTES,
        grpc_server_max_encoding_message_size: MAX_MESSAGE_BYTES,
        grpc_client_max_message_size: MAX_MESSAGE_BYTES,
        override_logical_codec: Some(Arc::new(ObsqCodec::default())),
        ..Default::default()
    }
    .with_override_session_builder(Arc::new(scheduler_state));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista("set up the scheduler"))?;
    crate::render::status(&format!(
        "obsq cluster scheduler listening on {addr} (queries: --cluster df://{addr})"
    ));
    start_server(cluster, addr, Arc::new(config))
        .await
        .map_err(ballista("run the scheduler"))
}

async fn executor(
    scheduler: &str,
    bind: &str,
    work_dir: Option<PathBuf>,
    slots: Option<usize>,
) -> Result<()> {
    let sched = address("--scheduler", scheduler)?;
    let addr = address("--bind", bind)?;
    let grpc_port = addr.port().checked_add(1).ok_or_else(|| {
        Error::Usage(format!(
            "--bind {bind}: the port after it is taken by gRPC; pick a lower one"
        ))
    })?;
    let mut config = ExecutorProcessConfig {
        bind_host: addr.ip().to_string(),
        external_host: Some(addr.ip().to_string()),
        port: addr.port(),
        grpc_port,
        scheduler_host: sched.ip().to_string(),
        scheduler_port: sched.port(),
        scheduler_connect_timeout_seconds: 30,
        work_dir: work_dir.map(|d| d.to_string_lossy().into_owned()),
        grpc_max_decoding_message_size: MAX_MESSAGE_BYTES,
        grpc_max_encoding_message_size: MAX_MESSAGE_BYTES,
        override_function_registry: Some(Arc::new(function_registry())),
        override_runtime_producer: Some(Arc::new(runtime_env)),
        override_logical_codec: Some(Arc::new(ObsqCodec::default())),
        ..Default::default()
    };
    if let Some(n) = slots {
        config.vcores = n.max(1);
    }
    crate::render::status(&format!(
        "obsq cluster executor on {addr} (gRPC {grpc_port}), scheduler {sched}"
    ));
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista("run the executor"))
}
