//! zstd contexts kept for reuse: a freed compression or decompression context is reset and
//! handed to the next caller that creates one.
//!
//! parquet makes a zstd codec, a compression and a decompression context, for every column chunk
//! it writes or reads (parquet 59; 60 makes each lazily, still one per chunk). zstd asks the CPU
//! for its features each time it creates a context: three `cpuid` instructions, and in a virtual
//! machine each is a trap to the hypervisor (4.4 µs on the benchmark machine, 26 µs a pair of
//! contexts). An ingest of 1M events over 30 days writes ~1,500 column chunks: ~40 ms of CPU
//! asking the same question. Neither parquet nor the `zstd` crates let a caller pass a context
//! in, so the link does it (`build.rs`, GNU `ld --wrap`): every call to `ZSTD_createCCtx`,
//! `ZSTD_freeCCtx`, `ZSTD_createDCtx` and `ZSTD_freeDCtx` from outside zstd's own sources comes
//! here. `ZSTD_reset_session_and_parameters` returns a context to the state a new one has
//! (zstd's documented way to reuse one); only contexts created here are kept, so a context zstd
//! did not allocate itself (static, custom allocator) is never handed out again.

use std::collections::HashSet;
use std::ffi::c_void;
use std::sync::Mutex;

use zstd::zstd_safe::zstd_sys::{
    ZSTD_CCtx, ZSTD_CCtx_reset, ZSTD_DCtx, ZSTD_DCtx_reset, ZSTD_ResetDirective, ZSTD_isError,
};

/// Contexts of each kind kept at most: as many as a flush's encoders or a query's column
/// readers use at once, bounded (a compression context holds its ~1 MB work space).
const KEPT: usize = 32;

/// The contexts of one kind: those created here (by address) and the free ones among them.
#[derive(Default)]
struct Contexts {
    created: HashSet<usize>,
    free: Vec<usize>,
}

/// A pool of contexts of one kind (created on first use).
type Pool = Mutex<Option<Contexts>>;

static CCTX: Pool = Mutex::new(None);
static DCTX: Pool = Mutex::new(None);

unsafe extern "C" {
    fn __real_ZSTD_createCCtx() -> *mut ZSTD_CCtx;
    fn __real_ZSTD_freeCCtx(cctx: *mut ZSTD_CCtx) -> usize;
    fn __real_ZSTD_createDCtx() -> *mut ZSTD_DCtx;
    fn __real_ZSTD_freeDCtx(dctx: *mut ZSTD_DCtx) -> usize;
}

/// A free context of `pool`, or a new one from `create` (remembered as created here).
fn take(pool: &Pool, create: impl FnOnce() -> *mut c_void) -> *mut c_void {
    let mut guard = pool.lock().unwrap_or_else(|e| e.into_inner());
    let contexts = guard.get_or_insert_with(Contexts::default);
    if let Some(p) = contexts.free.pop() {
        return p as *mut c_void;
    }
    let p = create();
    if !p.is_null() {
        contexts.created.insert(p as usize);
    }
    p
}

/// Keeps `p` in `pool` when it was created here, there is room and `reset` succeeds; false: the
/// caller frees it.
fn keep(pool: &Pool, p: *mut c_void, reset: impl FnOnce() -> bool) -> bool {
    let mut guard = pool.lock().unwrap_or_else(|e| e.into_inner());
    let contexts = guard.get_or_insert_with(Contexts::default);
    if !contexts.created.contains(&(p as usize)) {
        return false;
    }
    if contexts.free.len() < KEPT && reset() {
        contexts.free.push(p as usize);
        return true;
    }
    contexts.created.remove(&(p as usize));
    false
}

/// Resets `cctx` to the state of a new compression context; false if zstd refuses.
///
/// # Safety
/// `cctx` is a live context.
unsafe fn reset_cctx(cctx: *mut ZSTD_CCtx) -> bool {
    let directive = ZSTD_ResetDirective::ZSTD_reset_session_and_parameters;
    // SAFETY: the caller's contract.
    unsafe { ZSTD_isError(ZSTD_CCtx_reset(cctx, directive)) == 0 }
}

/// Resets `dctx` to the state of a new decompression context; false if zstd refuses.
///
/// # Safety
/// `dctx` is a live context.
unsafe fn reset_dctx(dctx: *mut ZSTD_DCtx) -> bool {
    let directive = ZSTD_ResetDirective::ZSTD_reset_session_and_parameters;
    // SAFETY: the caller's contract.
    unsafe { ZSTD_isError(ZSTD_DCtx_reset(dctx, directive)) == 0 }
}

/// Frees `p` through `pool`: kept when [`keep`] takes it (reset by `reset`), else freed by zstd's
/// `free`. Returns what `ZSTD_freeCCtx`/`ZSTD_freeDCtx` return (0 when kept).
///
/// # Safety
/// `p` is null or a live context of `pool`'s kind, not used after this call.
unsafe fn give_back<T>(
    pool: &Pool,
    p: *mut T,
    reset: unsafe fn(*mut T) -> bool,
    free: unsafe extern "C" fn(*mut T) -> usize,
) -> usize {
    // SAFETY (both calls): `p` is a live context (the caller's contract).
    if p.is_null() || keep(pool, p.cast(), || unsafe { reset(p) }) {
        return 0;
    }
    unsafe { free(p) }
}

/// `ZSTD_createCCtx`, from the kept contexts when one is free.
#[unsafe(no_mangle)]
pub extern "C" fn __wrap_ZSTD_createCCtx() -> *mut ZSTD_CCtx {
    // SAFETY: zstd's own constructor, no arguments.
    take(&CCTX, || unsafe { __real_ZSTD_createCCtx() }.cast()).cast()
}

/// `ZSTD_freeCCtx`: a context created by [`__wrap_ZSTD_createCCtx`] is reset and kept.
///
/// # Safety
/// As zstd's: `cctx` is null or a context from `ZSTD_createCCtx`, not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __wrap_ZSTD_freeCCtx(cctx: *mut ZSTD_CCtx) -> usize {
    // SAFETY: the caller's contract.
    unsafe { give_back(&CCTX, cctx, reset_cctx, __real_ZSTD_freeCCtx) }
}

/// `ZSTD_createDCtx`, from the kept contexts when one is free.
#[unsafe(no_mangle)]
pub extern "C" fn __wrap_ZSTD_createDCtx() -> *mut ZSTD_DCtx {
    // SAFETY: zstd's own constructor, no arguments.
    take(&DCTX, || unsafe { __real_ZSTD_createDCtx() }.cast()).cast()
}

/// `ZSTD_freeDCtx`: a context created by [`__wrap_ZSTD_createDCtx`] is reset and kept.
///
/// # Safety
/// As zstd's: `dctx` is null or a context from `ZSTD_createDCtx`, not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __wrap_ZSTD_freeDCtx(dctx: *mut ZSTD_DCtx) -> usize {
    // SAFETY: the caller's contract.
    unsafe { give_back(&DCTX, dctx, reset_dctx, __real_ZSTD_freeDCtx) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zstd::zstd_safe::zstd_sys;

    const TEXT: &[u8] = b"the same words again and again, and the same words once more";

    /// Compresses TEXT x 40 with `cctx` as it stands.
    fn compress_with(cctx: *mut ZSTD_CCtx) -> Vec<u8> {
        let text = TEXT.repeat(40);
        let mut out = vec![0u8; 4096];
        // SAFETY: a live context; the buffers are valid for their lengths.
        let n = unsafe {
            zstd_sys::ZSTD_compress2(
                cctx,
                out.as_mut_ptr().cast(),
                out.len(),
                text.as_ptr().cast(),
                text.len(),
            )
        };
        // SAFETY: a plain function of the code.
        assert_eq!(unsafe { ZSTD_isError(n) }, 0, "compress");
        out.truncate(n);
        out
    }

    /// Decompresses `frame` with `dctx` as it stands; `None` when zstd refuses.
    fn decompress_with(dctx: *mut ZSTD_DCtx, frame: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; TEXT.len() * 40];
        // SAFETY: a live context; the buffers are valid for their lengths.
        let n = unsafe {
            zstd_sys::ZSTD_decompressDCtx(
                dctx,
                out.as_mut_ptr().cast(),
                out.len(),
                frame.as_ptr().cast(),
                frame.len(),
            )
        };
        // SAFETY: a plain function of the code.
        (unsafe { ZSTD_isError(n) } == 0).then(|| {
            out.truncate(n);
            out
        })
    }

    /// A reset compression context compresses as a new one does: the level and the dictionary
    /// set on it before are gone. A reset decompression context has no dictionary either.
    #[test]
    fn a_reset_context_works_as_a_new_one() {
        // SAFETY: contexts made, used and freed here, outside the pool.
        unsafe {
            let fresh = __real_ZSTD_createCCtx();
            let want = compress_with(fresh);
            let used = __real_ZSTD_createCCtx();
            let dict = TEXT;
            zstd_sys::ZSTD_CCtx_setParameter(
                used,
                zstd_sys::ZSTD_cParameter::ZSTD_c_compressionLevel,
                19,
            );
            zstd_sys::ZSTD_CCtx_loadDictionary(used, dict.as_ptr().cast(), dict.len());
            let with_dict = compress_with(used);
            assert_ne!(
                with_dict, want,
                "the dictionary and level change the output"
            );
            assert!(reset_cctx(used));
            assert_eq!(compress_with(used), want);

            let d = __real_ZSTD_createDCtx();
            zstd_sys::ZSTD_DCtx_loadDictionary(d, dict.as_ptr().cast(), dict.len());
            assert_eq!(
                decompress_with(d, &with_dict).as_deref(),
                Some(&TEXT.repeat(40)[..])
            );
            assert!(reset_dctx(d));
            assert_eq!(
                decompress_with(d, &with_dict),
                None,
                "no dictionary after a reset"
            );
            assert_eq!(
                decompress_with(d, &want).as_deref(),
                Some(&TEXT.repeat(40)[..])
            );
            __real_ZSTD_freeCCtx(fresh);
            __real_ZSTD_freeCCtx(used);
            __real_ZSTD_freeDCtx(d);
        }
    }

    /// A freed context is kept (up to KEPT) and handed out before a new one is made; one not
    /// created through the pool, or whose reset fails, is left to the caller to free.
    #[test]
    fn the_pool_hands_back_what_it_made() {
        let pool: Pool = Mutex::new(None);
        let mut next = 0x1000usize;
        let mut made = Vec::new();
        for _ in 0..KEPT + 2 {
            made.push(take(&pool, || {
                next += 16;
                next as *mut c_void
            }));
        }
        assert!(!keep(&pool, 0x8 as *mut c_void, || true), "not made here");
        assert!(!keep(&pool, made[0], || false), "reset failed");
        for &p in &made[1..=KEPT] {
            assert!(keep(&pool, p, || true));
        }
        assert!(!keep(&pool, made[KEPT + 1], || true), "the pool is full");
        let again = take(&pool, || unreachable!("a kept context is free"));
        assert_eq!(again, made[KEPT]);
        let guard = pool.lock().expect("pool");
        let contexts = guard.as_ref().expect("contexts");
        assert_eq!(contexts.free.len(), KEPT - 1);
        assert!(!contexts.created.contains(&(made[0] as usize)));
        assert!(!contexts.created.contains(&(made[KEPT + 1] as usize)));
    }

    /// The link routes zstd's constructors through the pool (`build.rs`): a context made by a
    /// plain call to `ZSTD_createCCtx` or `ZSTD_createDCtx` is one the pool knows.
    #[test]
    fn zstd_calls_go_through_the_pool() {
        // SAFETY: contexts made and freed here.
        unsafe {
            let c = zstd_sys::ZSTD_createCCtx();
            let d = zstd_sys::ZSTD_createDCtx();
            let known = |pool: &Pool, p: usize| {
                let guard = pool.lock().expect("pool");
                guard.as_ref().is_some_and(|c| c.created.contains(&p))
            };
            assert!(known(&CCTX, c as usize));
            assert!(known(&DCTX, d as usize));
            zstd_sys::ZSTD_freeCCtx(c);
            zstd_sys::ZSTD_freeDCtx(d);
        }
    }
}
