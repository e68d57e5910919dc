//! The real libc functions behind every symbol we export, found once with
//! `dlsym(RTLD_NEXT, name)`. Calls that are not ours (files, pipes, AF_UNIX,
//! AF_NETLINK, AF_INET6) and the shim's own system calls go through here, so
//! they never re-enter our exports.
//!
//! A small table of our own instead of `redhook`: we need the pointers as
//! plain values (to call from the driver thread and fork handlers) and one
//! place that resolves them all at once; redhook generates the exports too,
//! which must stay in lib.rs under our own guard.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::OnceLock;

use libc::{
    fd_set, iovec, mmsghdr, msghdr, nfds_t, off_t, pollfd, sigset_t, size_t, sockaddr, socklen_t,
    ssize_t, timespec, timeval,
};

macro_rules! real_functions {
    (required { $($name:ident : $ty:ty;)* } optional { $($opt:ident : $oty:ty;)* }) => {
        /// Pointers to the next definition (libc's) of each exported symbol.
        pub struct Real {
            $(pub $name: $ty,)*
            $(pub $opt: Option<$oty>,)*
        }

        fn resolve() -> Real {
            Real {
                $($name: {
                    let p = lookup(concat!(stringify!($name), "\0"));
                    if p.is_null() {
                        missing(stringify!($name));
                    }
                    // SAFETY: `p` is libc's definition of this symbol, whose C
                    // prototype is the function type `$ty`; a non-null data
                    // pointer and a function pointer have the same size.
                    unsafe { std::mem::transmute::<*mut c_void, $ty>(p) }
                },)*
                $($opt: {
                    let p = lookup(concat!(stringify!($opt), "\0"));
                    // SAFETY: as above; a null pointer becomes None.
                    (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, $oty>(p) })
                },)*
            }
        }
    };
}

real_functions! {
    required {
        socket: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
        socketpair: unsafe extern "C" fn(c_int, c_int, c_int, *mut c_int) -> c_int;
        bind: unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
        listen: unsafe extern "C" fn(c_int, c_int) -> c_int;
        accept: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
        accept4: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
        connect: unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
        send: unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t;
        sendto: unsafe extern "C" fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t;
        sendmsg: unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;
        sendmmsg: unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int;
        recv: unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int) -> ssize_t;
        recvfrom: unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t;
        recvmsg: unsafe extern "C" fn(c_int, *mut msghdr, c_int) -> ssize_t;
        recvmmsg: unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int, *mut timespec) -> c_int;
        read: unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t;
        write: unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t;
        readv: unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t;
        writev: unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t;
        close: unsafe extern "C" fn(c_int) -> c_int;
        shutdown: unsafe extern "C" fn(c_int, c_int) -> c_int;
        getsockopt: unsafe extern "C" fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int;
        setsockopt: unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
        getsockname: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
        getpeername: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
        fcntl: unsafe extern "C" fn(c_int, c_int, ...) -> c_int;
        ioctl: unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int;
        dup: unsafe extern "C" fn(c_int) -> c_int;
        dup2: unsafe extern "C" fn(c_int, c_int) -> c_int;
        dup3: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
        sendfile: unsafe extern "C" fn(c_int, c_int, *mut off_t, size_t) -> ssize_t;
        poll: unsafe extern "C" fn(*mut pollfd, nfds_t, c_int) -> c_int;
        ppoll: unsafe extern "C" fn(*mut pollfd, nfds_t, *const timespec, *const sigset_t) -> c_int;
        select: unsafe extern "C" fn(c_int, *mut fd_set, *mut fd_set, *mut fd_set, *mut timeval) -> c_int;
        pselect: unsafe extern "C" fn(c_int, *mut fd_set, *mut fd_set, *mut fd_set, *const timespec, *const sigset_t) -> c_int;
    }
    optional {
        close_range: unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int;
        closefrom: unsafe extern "C" fn(c_int);
        __chk_fail: unsafe extern "C" fn() -> !;
    }
}

fn lookup(name: &'static str) -> *mut c_void {
    // SAFETY: `name` is a NUL-terminated literal (the macro appends "\0").
    unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr() as *const c_char) }
}

fn missing(name: &str) -> ! {
    let msg = format!("sockshim: fatal: libc has no `{name}` (dlsym RTLD_NEXT failed)\n");
    // SAFETY: writing a valid buffer to stderr with the raw system call,
    // since the libc `write` is what could not be resolved.
    unsafe {
        libc::syscall(libc::SYS_write, 2, msg.as_ptr(), msg.len());
        libc::abort()
    }
}

static REAL: OnceLock<Real> = OnceLock::new();

/// The real libc functions (resolved on first use).
pub fn real() -> &'static Real {
    REAL.get_or_init(resolve)
}

/// `__chk_fail` of libc (FORTIFY buffer overflow): aborts the process.
pub fn chk_fail() -> ! {
    match real().__chk_fail {
        // SAFETY: libc's __chk_fail takes no argument and never returns.
        Some(f) => unsafe { f() },
        // SAFETY: abort has no preconditions.
        None => unsafe { libc::abort() },
    }
}
