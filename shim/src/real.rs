//! The real libc functions, resolved once with dlsym(RTLD_NEXT) on first
//! use. Our own code calls libc only through this table (or through the
//! `libc` crate for functions we never intercept), so it never re-enters
//! its own hooks.

use std::ffi::CStr;
use std::sync::OnceLock;

use libc::{c_int, c_void, size_t, sockaddr, socklen_t, ssize_t};

macro_rules! real_fns {
    ($($name:ident : fn($($arg:ty),*) -> $ret:ty;)*) => {
        /// Pointers to the next definition of each intercepted symbol.
        pub struct Real { $(pub $name: unsafe extern "C" fn($($arg),*) -> $ret,)* }

        fn resolve() -> Real {
            Real { $($name: {
                let name = concat!(stringify!($name), "\0");
                let name = CStr::from_bytes_with_nul(name.as_bytes()).expect("nul-terminated");
                // SAFETY: dlsym with RTLD_NEXT and a valid C string; the
                // result is either null (checked) or the address of the
                // libc function whose C signature matches the one declared.
                unsafe {
                    let p = libc::dlsym(libc::RTLD_NEXT, name.as_ptr());
                    if p.is_null() {
                        let msg = b"sockshim: cannot resolve a libc symbol\n";
                        libc::write(2, msg.as_ptr() as *const c_void, msg.len());
                        libc::abort();
                    }
                    std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) -> $ret>(p)
                }
            },)* }
        }
    };
}

real_fns! {
    socket: fn(c_int, c_int, c_int) -> c_int;
    socketpair: fn(c_int, c_int, c_int, *mut c_int) -> c_int;
    bind: fn(c_int, *const sockaddr, socklen_t) -> c_int;
    listen: fn(c_int, c_int) -> c_int;
    accept: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    accept4: fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
    connect: fn(c_int, *const sockaddr, socklen_t) -> c_int;
    send: fn(c_int, *const c_void, size_t, c_int) -> ssize_t;
    sendto: fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t;
    sendmsg: fn(c_int, *const libc::msghdr, c_int) -> ssize_t;
    recv: fn(c_int, *mut c_void, size_t, c_int) -> ssize_t;
    recvfrom: fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t;
    recvmsg: fn(c_int, *mut libc::msghdr, c_int) -> ssize_t;
    read: fn(c_int, *mut c_void, size_t) -> ssize_t;
    write: fn(c_int, *const c_void, size_t) -> ssize_t;
    readv: fn(c_int, *const libc::iovec, c_int) -> ssize_t;
    writev: fn(c_int, *const libc::iovec, c_int) -> ssize_t;
    close: fn(c_int) -> c_int;
    shutdown: fn(c_int, c_int) -> c_int;
    getsockopt: fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int;
    setsockopt: fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
    getsockname: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    getpeername: fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    fcntl: fn(c_int, c_int, libc::c_ulong) -> c_int;
    ioctl: fn(c_int, libc::c_ulong, libc::c_ulong) -> c_int;
    dup: fn(c_int) -> c_int;
    dup2: fn(c_int, c_int) -> c_int;
    dup3: fn(c_int, c_int, c_int) -> c_int;
    poll: fn(*mut libc::pollfd, libc::nfds_t, c_int) -> c_int;
    ppoll: fn(*mut libc::pollfd, libc::nfds_t, *const libc::timespec, *const libc::sigset_t) -> c_int;
    select: fn(c_int, *mut libc::fd_set, *mut libc::fd_set, *mut libc::fd_set, *mut libc::timeval) -> c_int;
    sendfile: fn(c_int, c_int, *mut libc::off_t, size_t) -> ssize_t;
    sendfile64: fn(c_int, c_int, *mut libc::off64_t, size_t) -> ssize_t;
    splice: fn(c_int, *mut libc::loff_t, c_int, *mut libc::loff_t, size_t, libc::c_uint) -> ssize_t;
    sendmmsg: fn(c_int, *mut libc::mmsghdr, libc::c_uint, c_int) -> c_int;
    recvmmsg: fn(c_int, *mut libc::mmsghdr, libc::c_uint, c_int, *mut libc::timespec) -> c_int;
    close_range: fn(libc::c_uint, libc::c_uint, c_int) -> c_int;
    epoll_ctl: fn(c_int, c_int, c_int, *mut libc::epoll_event) -> c_int;
    epoll_pwait: fn(c_int, *mut libc::epoll_event, c_int, c_int, *const libc::sigset_t) -> c_int;
    epoll_pwait2: fn(c_int, *mut libc::epoll_event, c_int, *const libc::timespec, *const libc::sigset_t) -> c_int;
    fdopen: fn(c_int, *const libc::c_char) -> *mut libc::FILE;
    munmap: fn(*mut c_void, size_t) -> c_int;
    sigaction: fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;
    signal: fn(c_int, libc::sighandler_t) -> libc::sighandler_t;
    sysv_signal: fn(c_int, libc::sighandler_t) -> libc::sighandler_t;
    mprotect: fn(*mut c_void, size_t, c_int) -> c_int;
    mremap: fn(*mut c_void, size_t, size_t, c_int, *mut c_void) -> *mut c_void;
    pselect: fn(c_int, *mut libc::fd_set, *mut libc::fd_set, *mut libc::fd_set, *const libc::timespec, *const libc::sigset_t) -> c_int;
}

static REAL: OnceLock<Real> = OnceLock::new();

/// The table of real functions.
pub fn real() -> &'static Real {
    REAL.get_or_init(resolve)
}

/// An int-valued socket option of a kernel fd, through the real
/// getsockopt (None: the call failed).
pub fn getsockopt_int(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let mut v: c_int = 0;
    let mut l = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: an int-sized out-buffer with its length.
    let r = unsafe { (real().getsockopt)(fd, level, name, (&mut v as *mut c_int).cast(), &mut l) };
    (r == 0).then_some(v)
}
