//! User memory access for the exports (Linux's `copy_from_user`,
//! `copy_to_user`, `access_ok`): where the kernel answers EFAULT for a bad
//! user pointer, a plain dereference in the shim would crash the program.
//!
//! The mechanism is one `process_vm_readv`/`process_vm_writev` on our own
//! process: the kernel walks the page tables for us and reports a fault as
//! a short transfer instead of a signal. Two uses:
//!
//! - *copies* of small structures (sockaddr, msghdr, iovec arrays, option
//!   values, fd_sets) into or out of the shim, exactly as the kernel copies
//!   them (a read-only page is EFAULT for a write, as in Linux);
//! - *probes* of data buffers that the stack then reads or writes in place:
//!   one byte per touched page (sampled for very large buffers), all
//!   regions of one call in a single syscall. A probe only checks
//!   readability: a read-only receive buffer still crashes (documented gap).
//!
//! Addresses below `vm.mmap_min_addr` or outside the user half of the
//! address space are EFAULT without a syscall. A copy into or out of the
//! caller's live stack needs no syscall either (`live_stack`): most small
//! structures come from there. If the syscall is not
//! available (seccomp, ENOSYS), copies fall back to plain memory access
//! and probes succeed: the shim then behaves as it did before this module.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use libc::{c_void, iovec};

use crate::ops::R;

/// Default `vm.mmap_min_addr`: nothing can be mapped below it.
pub const MMAP_MIN_ADDR: usize = 65536;
/// End of the user half of the address space (above the largest user
/// address with 5-level paging; the rest is caught by the syscall).
pub const USER_END: usize = 1 << 56;
/// Linux `MAX_RW_COUNT` (INT_MAX rounded down to a page): the most one
/// read/write/send/recv moves; longer lengths are silently truncated.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;
/// Linux `UIO_MAXIOV` (IOV_MAX).
pub const UIO_MAXIOV: usize = 1024;
/// Pages probed per region at most; larger regions are sampled.
pub const MAX_PROBES_PER_REGION: usize = 256;
const PAGE: usize = 4096;

/// Linux `access_ok`: the range lies in the user half of the address space
/// (no wrap-around). The kernel checks only this before starting a call;
/// the pages themselves are checked when touched.
pub fn access_ok(addr: usize, len: usize) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= USER_END)
}

/// Can [addr, addr+len) be user memory at all? An empty range always can.
pub fn plausible(addr: usize, len: usize) -> bool {
    len == 0 || (addr >= MMAP_MIN_ADDR && access_ok(addr, len))
}

/// The addresses probed (one byte each) to check that every page of
/// [addr, addr+len) is readable: the first byte, then the first byte of
/// each following page; beyond `max` pages, the first and last pages and
/// evenly spaced ones in between. Empty for an empty range.
pub fn probe_points(addr: usize, len: usize, max: usize) -> Vec<usize> {
    if len == 0 || max == 0 {
        return Vec::new();
    }
    let first = addr / PAGE;
    let last = (addr + (len - 1)) / PAGE;
    let pages = last - first + 1;
    let at = |page: usize| if page == first { addr } else { page * PAGE };
    if pages <= max {
        return (first..=last).map(at).collect();
    }
    if max == 1 {
        return vec![addr];
    }
    (0..max)
        .map(|i| at(first + i * (pages - 1) / (max - 1)))
        .collect()
}

static UNAVAILABLE: AtomicBool = AtomicBool::new(false);
static PID: AtomicI32 = AtomicI32::new(0);

/// A forked child has another pid: forget the cached one.
pub fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

fn pid() -> i32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: getpid has no preconditions.
            let p = unsafe { libc::getpid() };
            PID.store(p, Ordering::Relaxed);
            p
        }
        p => p,
    }
}

/// One process_vm_readv/writev on ourselves. Ok(bytes moved), or Err(())
/// when the syscall cannot be used at all (then remembered).
fn vm_rw(write: bool, local: &[iovec], remote: &[iovec]) -> Result<usize, ()> {
    if UNAVAILABLE.load(Ordering::Relaxed) {
        return Err(());
    }
    // SAFETY: `local` describes buffers of this process that the caller
    // owns for the duration of the call (writable ones for a read); the
    // kernel checks `remote` itself and reports faults as a short count.
    let n = unsafe {
        if write {
            libc::process_vm_writev(
                pid(),
                local.as_ptr(),
                local.len() as _,
                remote.as_ptr(),
                remote.len() as _,
                0,
            )
        } else {
            libc::process_vm_readv(
                pid(),
                local.as_ptr(),
                local.len() as _,
                remote.as_ptr(),
                remote.len() as _,
                0,
            )
        }
    };
    if n >= 0 {
        return Ok(n as usize);
    }
    // SAFETY: reading this thread's errno.
    match unsafe { *libc::__errno_location() } {
        libc::EFAULT => Ok(0),
        _ => {
            UNAVAILABLE.store(true, Ordering::Relaxed);
            Err(())
        }
    }
}

fn iov(addr: usize, len: usize) -> iovec {
    iovec {
        iov_base: addr as *mut c_void,
        iov_len: len,
    }
}

/// A batch of copies from user memory into shim buffers and of probes,
/// done in as few syscalls as possible (one for the usual handful).
pub struct Reads<'a> {
    copies: Vec<(iovec, iovec)>,
    probes: Vec<usize>,
    fault: bool,
    _dst: PhantomData<&'a mut [u8]>,
}

impl Default for Reads<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Reads<'a> {
    pub fn new() -> Self {
        Reads {
            copies: Vec::new(),
            probes: Vec::new(),
            fault: false,
            _dst: PhantomData,
        }
    }

    /// Copy `dst.len()` bytes from user address `src` into `dst`.
    pub fn copy(mut self, src: usize, dst: &'a mut [u8]) -> Self {
        if !dst.is_empty() {
            self.fault |= !plausible(src, dst.len());
            self.copies.push((
                iov(dst.as_mut_ptr() as usize, dst.len()),
                iov(src, dst.len()),
            ));
        }
        self
    }

    /// Check that [addr, addr+len) is readable user memory.
    pub fn probe(mut self, addr: usize, len: usize) -> Self {
        if len != 0 {
            self.fault |= !plausible(addr, len);
            if !self.fault {
                let pts = probe_points(addr, len, MAX_PROBES_PER_REGION);
                self.probes.extend(pts);
            }
        }
        self
    }

    /// Ok(()) when every copy and probe succeeded, else Err(EFAULT).
    pub fn run(self) -> R<()> {
        if self.fault {
            return Err(libc::EFAULT);
        }
        let mut scratch = [0u8; UIO_MAXIOV];
        let mut copies = self.copies.as_slice();
        let mut probes = self.probes.as_slice();
        while !copies.is_empty() || !probes.is_empty() {
            let nc = copies.len().min(UIO_MAXIOV / 2);
            let np = probes.len().min(UIO_MAXIOV - nc);
            let mut local: Vec<iovec> = copies[..nc].iter().map(|c| c.0).collect();
            let mut remote: Vec<iovec> = copies[..nc].iter().map(|c| c.1).collect();
            let want: usize = copies[..nc].iter().map(|c| c.0.iov_len).sum::<usize>() + np;
            if np > 0 {
                local.push(iov(scratch.as_mut_ptr() as usize, np));
                remote.extend(probes[..np].iter().map(|&p| iov(p, 1)));
            }
            match vm_rw(false, &local, &remote) {
                Ok(n) if n == want => {}
                Ok(_) => return Err(libc::EFAULT),
                Err(()) => {
                    // No syscall: plain copies (the ranges are plausible).
                    for (d, s) in &copies[..nc] {
                        // SAFETY: best effort without a checker; `d` is
                        // our buffer, `s` the caller's claimed-valid memory.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                s.iov_base as *const u8,
                                d.iov_base as *mut u8,
                                d.iov_len,
                            )
                        };
                    }
                }
            }
            copies = &copies[nc..];
            probes = &probes[np..];
        }
        Ok(())
    }
}

/// Copy `dst.len()` bytes from user address `src`.
pub fn copy_in(src: usize, dst: &mut [u8]) -> R<()> {
    if live_stack::holds(src, dst.len()) {
        // SAFETY: the range is mapped, readable memory of the caller's
        // frames (`live_stack`), and `dst` is ours.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        return Ok(());
    }
    Reads::new().copy(src, dst).run()
}

/// The caller's live stack. Between the current stack pointer and the top
/// of the stack this thread runs on lie the frames of the call in progress
/// and of its callers: mapped, readable and writable for as long as the
/// call lasts. Programs pass most small structures from there (a sockaddr,
/// an option value, a socklen_t, epoll_wait's events), and a copy of such
/// a region needs no checker: the process_vm_readv/writev it cost was 3-4 %
/// of a shimmed server's time per connection (issue 18). Anything else
/// (the heap, globals, a region below the stack pointer, an alternate
/// signal stack or a coroutine's stack, where the stack pointer is outside
/// the thread's stack) goes through the checker as before.
mod live_stack {
    use std::cell::Cell;

    thread_local! {
        /// [low, top) of this thread's stack; (0, 0) not asked yet,
        /// (1, 1) not known.
        static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    fn bounds() -> (usize, usize) {
        BOUNDS
            .try_with(|b| {
                if b.get() == (0, 0) {
                    b.set(ask().unwrap_or((1, 1)));
                }
                b.get()
            })
            .unwrap_or((1, 1))
    }

    fn ask() -> Option<(usize, usize)> {
        // SAFETY: pthread_attr_t is plain data that pthread_getattr_np
        // initialises (destroyed below); the out-parameters are locals.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return None;
            }
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
            let low = addr as usize;
            (r == 0 && size > 0).then(|| (low, low.saturating_add(size)))
        }
    }

    /// Does [addr, addr + len) lie above this call's stack pointer and
    /// below the top of this thread's stack, the stack pointer being in
    /// that stack?
    #[inline(never)]
    pub fn holds(addr: usize, len: usize) -> bool {
        let marker = 0u8;
        let sp = std::hint::black_box(&marker) as *const u8 as usize;
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let (low, top) = bounds();
        low < sp && sp < top && sp < addr && end <= top
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_callers_frames_and_nothing_else() {
            let local = [7u8; 64];
            let at = local.as_ptr() as usize;
            assert!(super::holds(at, 64), "a local of the caller");
            let heap = Box::new([0u8; 64]);
            assert!(!super::holds(heap.as_ptr() as usize, 64), "the heap");
            static GLOBAL: [u8; 8] = [0; 8];
            assert!(!super::holds(GLOBAL.as_ptr() as usize, 8), "a global");
            assert!(!super::holds(usize::MAX - 4, 8), "wraps around");
            // Below the stack pointer: where a frame that is gone was.
            assert!(!super::holds(at - 64 * 1024, 16), "below the stack pointer");
            std::thread::spawn(|| {
                let l = [1u8; 16];
                assert!(
                    super::holds(l.as_ptr() as usize, 16),
                    "another thread's own stack"
                );
            })
            .join()
            .unwrap();
            let (low, top) = super::bounds();
            assert!(low < at && at < top);
            assert!(!super::holds(top - 8, 16), "past the top");
        }
    }
}

/// Read a `T` from user address `p`.
///
/// # Safety
/// Every bit pattern must be a valid `T` (a plain C structure).
pub unsafe fn read_val<T: Copy>(p: *const T) -> R<T> {
    let mut v = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `v` is size_of::<T>() writable bytes that we own.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of::<T>())
    };
    copy_in(p as usize, bytes)?;
    // SAFETY: fully initialised (zeroed, then copied), any bit pattern valid.
    Ok(unsafe { v.assume_init() })
}

/// Read `n` consecutive `T`s from user address `p` (an iovec or pollfd
/// array): Err(EFAULT) when any byte is unreadable.
///
/// # Safety
/// Every bit pattern must be a valid `T` (a plain C structure).
pub unsafe fn read_array<T: Copy>(p: *const T, n: usize) -> R<Vec<T>> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    let size = n * std::mem::size_of::<T>();
    // SAFETY: the capacity is `size` bytes that we own; zeroed first, so
    // the byte view below is initialised.
    let bytes = unsafe {
        std::ptr::write_bytes(v.as_mut_ptr(), 0, n);
        std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, size)
    };
    copy_in(p as usize, bytes)?;
    // SAFETY: all n elements are initialised, any bit pattern is valid.
    unsafe { v.set_len(n) };
    Ok(v)
}

/// Check that every region is readable user memory (one syscall).
pub fn readable(regions: &[(usize, usize)]) -> R<()> {
    if regions
        .iter()
        .all(|&(a, l)| l == 0 || probe_cache::hit(a, l))
    {
        return Ok(());
    }
    regions
        .iter()
        .fold(Reads::new(), |r, &(a, l)| r.probe(a, l))
        .run()?;
    for &(a, l) in regions {
        probe_cache::remember(a, l);
    }
    Ok(())
}

/// Programs reuse their buffers: a region whose pages were probed readable
/// is remembered per thread, so the next send/recv on it needs no syscall.
/// Every munmap/mremap/mprotect the program makes through the shim
/// (`unmapped()`) forgets all of them. (Unmappings inside libc, such as
/// malloc trimming its heap, are not seen: a program reusing freed memory
/// as a buffer may then crash where Linux returns EFAULT.)
pub mod probe_cache {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Direct-mapped by first page: enough for a server's per-connection
    /// buffers (a miss only costs the probe syscall).
    const SLOTS: usize = 512;
    static GENERATION: AtomicU64 = AtomicU64::new(1);

    thread_local! {
        static CACHE: RefCell<Vec<(usize, usize, u64)>> = const { RefCell::new(Vec::new()) };
    }

    fn slot(page: usize) -> usize {
        (page / super::PAGE).wrapping_mul(0x9e37_79b9) % SLOTS
    }

    pub fn hit(addr: usize, len: usize) -> bool {
        let g = GENERATION.load(Ordering::Acquire);
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let page = addr & !(super::PAGE - 1);
        CACHE.with(|c| {
            c.borrow()
                .get(slot(page))
                .is_some_and(|&(s, e, gen)| gen == g && s == page && end <= e)
        })
    }

    pub fn remember(addr: usize, len: usize) {
        let Some(end) = addr.checked_add(len) else {
            return;
        };
        if len == 0 {
            return;
        }
        let page = addr & !(super::PAGE - 1);
        let e = end.div_ceil(super::PAGE) * super::PAGE;
        let g = GENERATION.load(Ordering::Acquire);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_empty() {
                c.resize(SLOTS, (0, 0, 0));
            }
            let i = slot(page);
            // Keep the longer of two regions starting on the same page.
            if c[i].2 != g || c[i].0 != page || c[i].1 < e {
                c[i] = (page, e, g);
            }
        });
    }

    /// Some mapping changed: forget every probed region (all threads).
    pub fn unmapped() {
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
}

/// Copy `src` out to user memory: `(user address, bytes)` pairs, one
/// syscall. Err(EFAULT) when any byte could not be written (a partial
/// write may have happened, as with the kernel's copy_to_user).
pub fn copy_out(parts: &[(usize, &[u8])]) -> R<()> {
    let parts: Vec<&(usize, &[u8])> = parts.iter().filter(|p| !p.1.is_empty()).collect();
    if parts.is_empty() {
        return Ok(());
    }
    if parts.iter().any(|(a, b)| !plausible(*a, b.len())) {
        return Err(libc::EFAULT);
    }
    if parts.iter().all(|(a, b)| live_stack::holds(*a, b.len())) {
        for (a, b) in parts {
            // SAFETY: the range is mapped, writable memory of the caller's
            // frames (`live_stack`).
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), *a as *mut u8, b.len()) };
        }
        return Ok(());
    }
    let local: Vec<iovec> = parts
        .iter()
        .map(|(_, b)| iov(b.as_ptr() as usize, b.len()))
        .collect();
    let remote: Vec<iovec> = parts.iter().map(|(a, b)| iov(*a, b.len())).collect();
    let want: usize = parts.iter().map(|p| p.1.len()).sum();
    match vm_rw(true, &local, &remote) {
        Ok(n) if n == want => Ok(()),
        Ok(_) => Err(libc::EFAULT),
        Err(()) => {
            for (a, b) in parts {
                // SAFETY: best effort without a checker (see module doc).
                unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), *a as *mut u8, b.len()) };
            }
            Ok(())
        }
    }
}

/// The bytes of a plain C value, for `copy_out`.
///
/// # Safety
/// `T` must have no padding bytes (c_int, socklen_t...).
pub unsafe fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: `v` is size_of::<T>() initialised bytes (no padding).
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// The mutable bytes of a plain C value, to copy into.
///
/// # Safety
/// Every bit pattern must be a valid `T`.
pub unsafe fn bytes_of_mut<T: Copy>(v: &mut T) -> &mut [u8] {
    // SAFETY: `v` is size_of::<T>() bytes that we own; any bytes written
    // make a valid T per the contract.
    unsafe { std::slice::from_raw_parts_mut(v as *mut T as *mut u8, std::mem::size_of::<T>()) }
}

/// The bytes of a slice of plain C values, for `copy_out`.
///
/// # Safety
/// `T` must have no padding bytes.
pub unsafe fn slice_bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: `v` is size_of_val(v) initialised bytes (no padding).
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// Gather user iovecs into one buffer (writev, sendmsg): Err(EFAULT) when
/// any byte is unreadable. `iovs` lengths are already validated.
pub fn gather(iovs: &[iovec]) -> R<Vec<u8>> {
    let total: usize = iovs.iter().map(|v| v.iov_len).sum();
    let mut out = vec![0u8; total];
    if total == 0 {
        return Ok(out);
    }
    if iovs
        .iter()
        .any(|v| !plausible(v.iov_base as usize, v.iov_len))
    {
        return Err(libc::EFAULT);
    }
    let local = [iov(out.as_mut_ptr() as usize, total)];
    let remote: Vec<iovec> = iovs.iter().filter(|v| v.iov_len > 0).copied().collect();
    match vm_rw(false, &local, &remote) {
        Ok(n) if n == total => Ok(out),
        Ok(_) => Err(libc::EFAULT),
        Err(()) => {
            let mut off = 0;
            for v in &remote {
                // SAFETY: best effort without a checker (see module doc).
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        v.iov_base as *const u8,
                        out.as_mut_ptr().add(off),
                        v.iov_len,
                    )
                };
                off += v.iov_len;
            }
            Ok(out)
        }
    }
}

/// Scatter `data` into user iovecs (readv, recvmsg), in order.
pub fn scatter(iovs: &[iovec], data: &[u8]) -> R<()> {
    let mut parts = Vec::new();
    let mut off = 0;
    for v in iovs {
        if off >= data.len() {
            break;
        }
        let k = v.iov_len.min(data.len() - off);
        parts.push((v.iov_base as usize, &data[off..off + k]));
        off += k;
    }
    copy_out(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_ranges() {
        assert!(plausible(0, 0), "empty is never a fault");
        assert!(plausible(1, 0));
        assert!(!plausible(0, 1), "NULL");
        assert!(!plausible(1, 10), "(void*)1");
        assert!(!plausible(MMAP_MIN_ADDR - 1, 1));
        assert!(plausible(MMAP_MIN_ADDR, 1));
        assert!(!plausible(usize::MAX - 3, 10), "wraps");
        assert!(!plausible(1 << 63, 1), "kernel half");
        assert!(plausible(USER_END - 1, 1));
        assert!(!plausible(USER_END - 1, 2));
        assert!(access_ok(1, 10), "access_ok only checks the upper bound");
        assert!(!access_ok(usize::MAX, 2));
    }

    #[test]
    fn probe_cache_remembers_until_a_mapping_changes() {
        let buf = vec![0u8; 10_000];
        let a = buf.as_ptr() as usize;
        // Other tests in this binary munmap concurrently (through the
        // shim's own munmap export), so a probe may be forgotten at once:
        // retry until one probe survives to the check.
        let remembered = (0..1000).any(|_| {
            readable(&[(a, buf.len())]).unwrap();
            probe_cache::hit(a + 10, 50)
        });
        assert!(remembered, "inside a probed region");
        probe_cache::unmapped();
        assert!(!probe_cache::hit(a + 10, 50), "forgotten after munmap");
    }

    #[test]
    fn probe_points_cover_every_page() {
        assert!(probe_points(0x10000, 0, 8).is_empty());
        assert_eq!(probe_points(0x10010, 1, 8), vec![0x10010]);
        assert_eq!(probe_points(0x10ff0, 0x20, 8), vec![0x10ff0, 0x11000]);
        assert_eq!(probe_points(0x10000, 0x1000, 8), vec![0x10000]);
        assert_eq!(
            probe_points(0x10001, 0x2000, 8),
            vec![0x10001, 0x11000, 0x12000]
        );
    }

    #[test]
    fn probe_points_sample_large_regions() {
        let p = probe_points(0x10008, 100 * PAGE, 10);
        assert_eq!(p.len(), 10);
        assert_eq!(p[0], 0x10008, "first byte");
        assert_eq!(*p.last().unwrap(), 0x10000 + 100 * PAGE, "last page");
        assert!(p.windows(2).all(|w| w[0] < w[1]), "increasing");
        assert_eq!(probe_points(0x10008, 100 * PAGE, 1), vec![0x10008]);
    }

    #[test]
    fn copies_and_probes_on_real_memory() {
        let src = [1u8, 2, 3, 4, 5];
        let mut dst = [0u8; 5];
        copy_in(src.as_ptr() as usize, &mut dst).unwrap();
        assert_eq!(dst, src);
        assert_eq!(copy_in(1, &mut dst), Err(libc::EFAULT));
        assert_eq!(readable(&[(src.as_ptr() as usize, 5)]), Ok(()));
        assert_eq!(
            readable(&[(src.as_ptr() as usize, 5), (8, 1)]),
            Err(libc::EFAULT)
        );
        let mut out = [0u8; 4];
        copy_out(&[(out.as_mut_ptr() as usize, &[9, 8, 7, 6])]).unwrap();
        assert_eq!(out, [9, 8, 7, 6]);
        assert_eq!(copy_out(&[(16, &[1])]), Err(libc::EFAULT));
        // SAFETY: i32 accepts any bit pattern.
        assert_eq!(unsafe { read_val(&7i32 as *const i32) }, Ok(7));
    }

    #[test]
    fn unmapped_page_is_a_fault() {
        // SAFETY: anonymous mapping of two pages, the second unmapped again.
        let m = unsafe {
            let m = libc::mmap(
                std::ptr::null_mut(),
                2 * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(m, libc::MAP_FAILED);
            libc::munmap((m as usize + PAGE) as *mut c_void, PAGE);
            m as usize
        };
        assert_eq!(readable(&[(m, PAGE)]), Ok(()));
        assert_eq!(readable(&[(m, PAGE + 1)]), Err(libc::EFAULT));
        let good = iov(m, 8);
        let bad = iov(m + PAGE - 4, 8);
        assert_eq!(gather(&[good]).map(|v| v.len()), Ok(8));
        assert_eq!(gather(&[good, bad]), Err(libc::EFAULT));
        assert_eq!(scatter(&[good], &[1; 4]), Ok(()));
        assert_eq!(scatter(&[good, bad], &[1; 16]), Err(libc::EFAULT));
        assert_eq!(scatter(&[good, bad], &[1; 8]), Ok(()), "untouched iovec");
        // SAFETY: unmapping our own first page.
        unsafe { libc::munmap(m as *mut c_void, PAGE) };
    }
}
