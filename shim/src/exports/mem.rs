//! munmap, mprotect, mremap: pass-through exports that make the shim forget
//! the user buffers it probed (`uaccess::probe_cache`).

use libc::{c_int, c_void, size_t};

use crate::real::real;
use crate::uaccess;

/// munmap(2): mappings change, so probed buffers are forgotten.
///
/// # Safety
/// Standard munmap(2) contract.
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    uaccess::probe_cache::unmapped();
    // SAFETY: pass-through.
    unsafe { (real().munmap)(addr, len) }
}

/// mprotect(2): see munmap.
///
/// # Safety
/// Standard mprotect(2) contract.
#[no_mangle]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int {
    uaccess::probe_cache::unmapped();
    // SAFETY: pass-through.
    unsafe { (real().mprotect)(addr, len, prot) }
}

/// mremap(2) with its optional fifth argument read as one word: see munmap.
///
/// # Safety
/// Standard mremap(2) contract.
#[no_mangle]
pub unsafe extern "C" fn mremap(
    old: *mut c_void,
    old_len: size_t,
    new_len: size_t,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    uaccess::probe_cache::unmapped();
    // SAFETY: pass-through.
    unsafe { (real().mremap)(old, old_len, new_len, flags, new_addr) }
}
