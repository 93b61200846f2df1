//! The `obsq` binary: parse arguments, build the configuration, run the command, map the result
//! to an exit code (0 ok, 2 error, 3 ingest quarantined lines; a closed pipe is not an error).

use std::process::ExitCode;

use clap::Parser;
use obsq::cli::Cli;
use obsq::config::Config;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (libmimalloc-sys names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Ingest frees and reallocates batch-sized blocks all the time; returning them to the OS
    // after mimalloc's default 1 s made the kernel zero them again (sys time doubled, measured).
    // Freed memory is kept for 10 s instead; `MIMALLOC_PURGE_DELAY` still overrides.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options at each purge decision.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
    }
    // C code (zstd inside the Parquet writer, SQLite) allocates through glibc's malloc. zstd
    // allocates a multi-MiB workspace per column chunk; above the default mmap threshold each one
    // was a fresh mmap that the kernel zeroes page by page (~10 % of ingest time, measured with
    // `perf record -e page-faults`). Serving them from the heap and not trimming it reuses them.
    // SAFETY: mallopt only sets allocator tunables; called before any C allocation of note.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
    let cli = Cli::parse();
    let result =
        Config::try_from(&cli).and_then(|config| obsq::commands::run(&config, cli.command));
    for n in obsq::notice::drain() {
        eprintln!("obsq: {n}");
    }
    // The process ends next, and the kernel frees all its memory at once. mimalloc's exit hook
    // would first return every freed page itself, one `madvise` per 64 KiB (after a 1M-event
    // ingest: 572 calls, 89 MiB, each with a TLB shootdown): no purging from here on.
    // SAFETY: sets one integer option, as above.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("obsq: {}", e.chain_text());
            ExitCode::from(2)
        }
    }
}
