//! Keeping the process's resident memory under a bound: freed memory the allocator holds on to
//! is given back to the OS when the resident set grows past it.
//!
//! The `obsq` binary allocates through mimalloc, which keeps freed memory for 10 s (see
//! `main.rs`) because giving it back and faulting it in again cost ingest time. Lines of
//! 0.2–1 MB come in blocks of every size, which the allocator reuses badly: the memory it held
//! freed grew to as much as was in use (backfill of 2.6 GB of such lines: 534 MiB in use at
//! most, measured with mimalloc purging at once, and a peak RSS of 921 MiB). Where mimalloc is not the global allocator (the library's own
//! tests), [`trim_above`] asks a heap that holds nothing and changes nothing.

/// Resident memory of this process in bytes (`/proc/self/statm`); `None` where it cannot be read.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| pages * p)
}

/// Gives the memory the allocator holds freed back to the OS when the process is resident in
/// more than `limit` bytes; true when it did. Costs a read of `/proc` when under the limit.
pub fn trim_above(limit: u64) -> bool {
    if resident_bytes().is_none_or(|r| r <= limit) {
        return false;
    }
    // SAFETY: mi_collect takes no pointers; `force` purges the pages freed to mimalloc's
    // arenas now rather than after their delay, and collects this thread's heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_and_grows_with_touched_memory() {
        let before = resident_bytes().expect("Linux has /proc/self/statm");
        assert!(before > 0);
        let block = vec![1u8; 64 << 20];
        let after = resident_bytes().unwrap();
        assert!(after >= before + (32 << 20), "{before} -> {after}");
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), 64 << 20);
    }

    #[test]
    fn trims_only_above_the_limit() {
        assert!(!trim_above(u64::MAX));
        assert!(trim_above(0));
    }
}
