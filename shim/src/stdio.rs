//! stdio on stack sockets: glibc's FILE functions call read/write inside
//! libc, past our exports, so `fdopen` on a stack socket returns a stream
//! made with `fopencookie` whose read/write/close go through the shim.

use std::sync::Arc;

use libc::{c_char, c_int, c_void, size_t, ssize_t};

use crate::fdtable::OpenFile;

/// glibc's `cookie_io_functions_t` (not in the libc crate).
#[repr(C)]
struct CookieIoFunctions {
    read: Option<extern "C" fn(*mut c_void, *mut c_char, size_t) -> ssize_t>,
    write: Option<extern "C" fn(*mut c_void, *const c_char, size_t) -> ssize_t>,
    seek: Option<extern "C" fn(*mut c_void, *mut i64, c_int) -> c_int>,
    close: Option<extern "C" fn(*mut c_void) -> c_int>,
}

extern "C" {
    fn fopencookie(
        cookie: *mut c_void,
        mode: *const c_char,
        funcs: CookieIoFunctions,
    ) -> *mut libc::FILE;
}

struct Cookie {
    fd: c_int,
    file: Arc<OpenFile>,
}

extern "C" fn cookie_read(c: *mut c_void, buf: *mut c_char, size: size_t) -> ssize_t {
    // SAFETY: c is the Cookie we boxed in fdopen; buf is stdio's buffer of `size`.
    let c = unsafe { &*(c as *const Cookie) };
    let b = unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, size) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::ops::recv(&c.file, b, 0)
    })) {
        Ok(Ok((n, _, _))) => n as ssize_t,
        Ok(Err(e)) => {
            // SAFETY: errno is thread-local.
            unsafe { *libc::__errno_location() = e };
            -1
        }
        Err(_) => -1,
    }
}

extern "C" fn cookie_write(c: *mut c_void, buf: *const c_char, size: size_t) -> ssize_t {
    // SAFETY: c is our Cookie; buf holds `size` bytes from stdio.
    let c = unsafe { &*(c as *const Cookie) };
    let b = unsafe { std::slice::from_raw_parts(buf as *const u8, size) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::ops::send(&c.file, b, 0, None)
    })) {
        Ok(Ok(n)) => n as ssize_t,
        Ok(Err(e)) => {
            // SAFETY: errno is thread-local.
            unsafe { *libc::__errno_location() = e };
            -1
        }
        Err(_) => -1,
    }
}

extern "C" fn cookie_close(c: *mut c_void) -> c_int {
    // SAFETY: c is the Box<Cookie> leaked in fdopen; fclose calls this once.
    let c = unsafe { Box::from_raw(c as *mut Cookie) };
    // SAFETY: closing the stream's fd goes through our close export.
    unsafe { crate::exports::fd::close(c.fd) }
}

/// A FILE* for stack socket `fd`, or null with errno set.
///
/// # Safety
/// `mode` must be a valid C string (fdopen's contract).
pub unsafe fn fdopen_socket(
    fd: c_int,
    file: Arc<OpenFile>,
    mode: *const c_char,
) -> *mut libc::FILE {
    let cookie = Box::into_raw(Box::new(Cookie { fd, file }));
    let funcs = CookieIoFunctions {
        read: Some(cookie_read),
        write: Some(cookie_write),
        seek: None,
        close: Some(cookie_close),
    };
    // SAFETY: fopencookie with our cookie and static functions.
    let f = unsafe { fopencookie(cookie as *mut c_void, mode, funcs) };
    if f.is_null() {
        // SAFETY: reclaim the cookie fopencookie did not take.
        drop(unsafe { Box::from_raw(cookie) });
    }
    f
}
