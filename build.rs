//! Build script: one link flag for the `obsq` binary.

fn main() {
    // Packed relative relocations (DT_RELR, glibc ≥ 2.36, binutils ≥ 2.38): the binary holds
    // ~226k relative relocations that the dynamic loader applies at every start; packed, the
    // table shrinks from 5 MB to a few KB, which matters for short `obsq record` processes.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("linux-gnu") && std::env::var_os("OBSQ_NO_RELR").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-env-changed=OBSQ_NO_RELR");
    println!("cargo:rerun-if-changed=build.rs");
}
