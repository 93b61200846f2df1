//! Build script: how the `obsq` binary (and every other target of the package) is linked.

fn main() {
    // A position-dependent executable (`-no-pie`), as DuckDB's CLI is. A position-independent one
    // holds ~226k relative relocations, and the dynamic loader applies them at every start:
    // it writes the 4.6 MB of `.data.rel.ro` (vtables, tables of string slices), a copy-on-write
    // page fault for each of its ~1,130 pages, on one thread before `main`. Linked at a fixed
    // address, those pages are read from the page cache when first used, on whichever thread
    // uses them. Measured (medians, alternating): `obsq --version` 6.5 -> 2.1 ms (1,457 -> 304
    // page faults), `obsq record` 5.97 -> 2.30 ms, a 24 h report on a 1-day store 35.9 -> 24.3 ms.
    // The price is that the executable's own code and data are not placed at a random address
    // (libraries, heap and stacks still are). `OBSQ_PIE=1` builds a position-independent
    // executable instead, its relocations packed (DT_RELR, glibc >= 2.36, binutils >= 2.38: the
    // table shrinks from 5 MB to a few KB; `obsq record` 5.35 -> 4.85 ms).
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("linux-gnu") {
        if std::env::var("OBSQ_PIE").is_ok_and(|v| v == "1") {
            println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        } else {
            println!("cargo:rustc-link-arg-bins=-no-pie");
        }
    }
    // zstd's context constructors and destructors go through `src/zstd_contexts.rs`, which keeps
    // freed contexts for reuse (why: see that module). Every target of the package links zstd
    // (through parquet) and the library, which defines the wrappers on the same targets.
    let cfg = |key: &str| std::env::var(key).unwrap_or_default();
    if cfg("CARGO_CFG_TARGET_OS") == "linux" && cfg("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!(
            "cargo:rustc-link-arg=-Wl,--wrap=ZSTD_createCCtx,--wrap=ZSTD_freeCCtx,\
             --wrap=ZSTD_createDCtx,--wrap=ZSTD_freeDCtx"
        );
    }
    println!("cargo:rerun-if-env-changed=OBSQ_PIE");
    println!("cargo:rerun-if-changed=build.rs");
}
