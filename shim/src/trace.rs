//! SOCKSHIM_TRACE: one line per intercepted network call, with its
//! arguments, result and errno, in strace's format (`strace -e
//! trace=network`), so that `sockshim compare` can set the two side by
//! side. The exported symbols of the network calls live here: each calls
//! the export in `exports/` and, when tracing is on, writes its line. Off
//! (the default) that is one load and one branch per call.
//!
//! SOCKSHIM_TRACE=1 (or `stderr`) writes to standard error; any other
//! value is a file the lines are appended to (each process of a program
//! appends its own lines, each line prefixed with its pid). Only what
//! strace's `network` class shows is traced: socket, socketpair, bind,
//! listen, accept(4), connect, shutdown, get/setsockopt, getsockname,
//! getpeername, and the send/recv families (send and recv appear as
//! sendto and recvfrom, as the kernel sees them).

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::Relaxed};

use libc::{c_int, c_void, size_t, sockaddr, socklen_t, ssize_t};

use crate::exports::{io, socket};
use crate::real::real;
use crate::uaccess;

static ON: AtomicBool = AtomicBool::new(false);
static OUT: AtomicI32 = AtomicI32::new(2);

/// Is tracing on? (Read once, at load.)
#[inline(always)]
pub fn on() -> bool {
    ON.load(Relaxed)
}

extern "C" fn trace_init() {
    let _ = std::panic::catch_unwind(|| {
        let Some(v) = std::env::var_os("SOCKSHIM_TRACE") else {
            return;
        };
        let v = v.to_string_lossy().into_owned();
        match v.as_str() {
            "" | "0" | "off" => return,
            "1" | "stderr" => {}
            path => {
                let Ok(p) = std::ffi::CString::new(path) else {
                    return;
                };
                // SAFETY: open(2) with a NUL-terminated path.
                let fd = unsafe {
                    libc::open(
                        p.as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                        0o644,
                    )
                };
                if fd < 0 {
                    crate::log::error(&format!(
                        "sockshim: SOCKSHIM_TRACE={path}: cannot open: {}",
                        std::io::Error::last_os_error()
                    ));
                    return;
                }
                OUT.store(crate::driver::to_high_fd(fd), Relaxed);
            }
        }
        ON.store(true, Relaxed);
    });
}

#[used]
#[link_section = ".init_array"]
static TRACE_INIT: extern "C" fn() = trace_init;

fn errno() -> i32 {
    // SAFETY: errno is thread-local and always valid to read.
    unsafe { *libc::__errno_location() }
}

/// Write one line for a call that returned `ret` with `err` the errno it
/// left; errno is left as it was.
fn emit(call: &str, ret: i64, err: i32) {
    let _ = std::panic::catch_unwind(|| {
        let mut line = String::with_capacity(128);
        // SAFETY: getpid has no preconditions.
        let _ = write!(line, "[pid {}] {call} = {ret}", unsafe { libc::getpid() });
        if ret < 0 {
            let _ = write!(line, " {} ({})", errno_name(err), strerror(err));
        }
        line.push('\n');
        // SAFETY: writing an initialised buffer to the trace fd.
        unsafe {
            (real().write)(
                OUT.load(Relaxed),
                line.as_ptr() as *const c_void,
                line.len(),
            )
        };
    });
    crate::set_errno(err);
}

fn strerror(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub fn errno_name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        _ => return format!("E{e}"),
    };
    n.to_string()
}

pub(crate) fn family(d: c_int) -> String {
    match d {
        libc::AF_UNIX => "AF_UNIX".into(),
        libc::AF_INET => "AF_INET".into(),
        libc::AF_INET6 => "AF_INET6".into(),
        libc::AF_NETLINK => "AF_NETLINK".into(),
        libc::AF_PACKET => "AF_PACKET".into(),
        libc::AF_UNSPEC => "AF_UNSPEC".into(),
        d => d.to_string(),
    }
}

/// `bits` as NAME|NAME|0xREST.
fn flag_names(bits: c_int, names: &[(c_int, &str)], zero: &str) -> String {
    if bits == 0 {
        return zero.to_string();
    }
    let mut rest = bits;
    let mut parts = Vec::new();
    for &(b, n) in names {
        if b != 0 && rest & b == b {
            parts.push(n.to_string());
            rest &= !b;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

const MSG_FLAGS: &[(c_int, &str)] = &[
    (libc::MSG_OOB, "MSG_OOB"),
    (libc::MSG_PEEK, "MSG_PEEK"),
    (libc::MSG_DONTROUTE, "MSG_DONTROUTE"),
    (libc::MSG_CTRUNC, "MSG_CTRUNC"),
    (libc::MSG_TRUNC, "MSG_TRUNC"),
    (libc::MSG_DONTWAIT, "MSG_DONTWAIT"),
    (libc::MSG_EOR, "MSG_EOR"),
    (libc::MSG_WAITALL, "MSG_WAITALL"),
    (libc::MSG_CONFIRM, "MSG_CONFIRM"),
    (libc::MSG_ERRQUEUE, "MSG_ERRQUEUE"),
    (libc::MSG_NOSIGNAL, "MSG_NOSIGNAL"),
    (libc::MSG_MORE, "MSG_MORE"),
    (libc::MSG_WAITFORONE, "MSG_WAITFORONE"),
    (libc::MSG_FASTOPEN, "MSG_FASTOPEN"),
    (libc::MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"),
];

pub(crate) fn sock_type(t: c_int) -> String {
    let base = match t & 0xf {
        libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
        libc::SOCK_DGRAM => "SOCK_DGRAM".to_string(),
        libc::SOCK_RAW => "SOCK_RAW".to_string(),
        libc::SOCK_SEQPACKET => "SOCK_SEQPACKET".to_string(),
        b => b.to_string(),
    };
    let fl = flag_names(
        t & !0xf,
        &[
            (libc::SOCK_CLOEXEC, "SOCK_CLOEXEC"),
            (libc::SOCK_NONBLOCK, "SOCK_NONBLOCK"),
        ],
        "",
    );
    if fl.is_empty() {
        base
    } else {
        format!("{base}|{fl}")
    }
}

/// The protocol as strace names it: IPPROTO_* for the inet families, a
/// number for the others.
fn proto_name(domain: c_int, p: c_int) -> String {
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return p.to_string();
    }
    match p {
        libc::IPPROTO_IP => "IPPROTO_IP".into(),
        libc::IPPROTO_TCP => "IPPROTO_TCP".into(),
        libc::IPPROTO_UDP => "IPPROTO_UDP".into(),
        libc::IPPROTO_ICMP => "IPPROTO_ICMP".into(),
        p => p.to_string(),
    }
}

fn level_name(l: c_int) -> String {
    match l {
        libc::SOL_SOCKET => "SOL_SOCKET".into(),
        libc::IPPROTO_TCP => "SOL_TCP".into(),
        libc::IPPROTO_IP => "SOL_IP".into(),
        libc::IPPROTO_IPV6 => "SOL_IPV6".into(),
        libc::IPPROTO_UDP => "SOL_UDP".into(),
        l => l.to_string(),
    }
}

fn opt_name(level: c_int, o: c_int) -> String {
    let n = match (level, o) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => "SO_REUSEADDR",
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => "SO_REUSEPORT",
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => "SO_KEEPALIVE",
        (libc::SOL_SOCKET, libc::SO_ERROR) => "SO_ERROR",
        (libc::SOL_SOCKET, libc::SO_TYPE) => "SO_TYPE",
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => "SO_SNDBUF",
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => "SO_RCVBUF",
        (libc::SOL_SOCKET, libc::SO_LINGER) => "SO_LINGER",
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => "SO_BROADCAST",
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => "SO_RCVTIMEO_OLD",
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => "SO_SNDTIMEO_OLD",
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => "SO_DOMAIN",
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => "SO_PROTOCOL",
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => "SO_ACCEPTCONN",
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => "TCP_NODELAY",
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => "TCP_MAXSEG",
        (libc::IPPROTO_TCP, libc::TCP_CORK) => "TCP_CORK",
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => "TCP_KEEPIDLE",
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => "TCP_KEEPINTVL",
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => "TCP_KEEPCNT",
        (libc::IPPROTO_TCP, libc::TCP_INFO) => "TCP_INFO",
        (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT) => "TCP_DEFER_ACCEPT",
        (libc::IPPROTO_TCP, libc::TCP_FASTOPEN) => "TCP_FASTOPEN",
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => "TCP_QUICKACK",
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => "TCP_USER_TIMEOUT",
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => "TCP_CONGESTION",
        (libc::IPPROTO_IP, libc::IP_TOS) => "IP_TOS",
        (libc::IPPROTO_IP, libc::IP_TTL) => "IP_TTL",
        (libc::IPPROTO_IP, libc::IP_RECVERR) => "IP_RECVERR",
        _ => return o.to_string(),
    };
    n.to_string()
}

/// Copy `len` bytes of the caller's memory at `p` (None: unreadable).
fn peek(p: usize, len: usize) -> Option<Vec<u8>> {
    let mut v = vec![0u8; len];
    uaccess::copy_in(p, &mut v).ok().map(|_| v)
}

/// A sockaddr as strace prints it.
fn addr_str(a: *const sockaddr, len: usize) -> String {
    if a.is_null() {
        return "NULL".into();
    }
    let Some(b) = peek(a as usize, len.min(128)) else {
        return format!("{a:p}");
    };
    if b.len() < 2 {
        return "{}".into();
    }
    let fam = u16::from_ne_bytes([b[0], b[1]]) as c_int;
    match fam {
        libc::AF_INET if b.len() >= 8 => format!(
            "{{sa_family=AF_INET, sin_port=htons({}), sin_addr=inet_addr(\"{}.{}.{}.{}\")}}",
            u16::from_be_bytes([b[2], b[3]]),
            b[4],
            b[5],
            b[6],
            b[7]
        ),
        libc::AF_INET6 if b.len() >= 28 => {
            let ip = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&b[8..24]).unwrap_or([0; 16]));
            format!(
                "{{sa_family=AF_INET6, sin6_port=htons({}), sin6_flowinfo=htonl({}), \
                 inet_pton(AF_INET6, \"{ip}\", &sin6_addr), sin6_scope_id={}}}",
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                u32::from_ne_bytes([b[24], b[25], b[26], b[27]])
            )
        }
        libc::AF_UNIX => {
            let path = &b[2..];
            if path.first() == Some(&0) && path.len() > 1 {
                format!(
                    "{{sa_family=AF_UNIX, sun_path=@{}}}",
                    quote(&path[1..], 108)
                )
            } else {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                format!(
                    "{{sa_family=AF_UNIX, sun_path={}}}",
                    quote(&path[..end], 108)
                )
            }
        }
        f => format!("{{sa_family={}}}", family(f)),
    }
}

/// `*len` now (None: unreadable or no pointer).
fn len_at(len: *const socklen_t) -> Option<socklen_t> {
    if len.is_null() {
        return None;
    }
    // SAFETY: read_val checks the address before reading it.
    unsafe { uaccess::read_val(len) }.ok()
}

/// An output sockaddr after the call, as strace shows it: the address and
/// `[len]`, or `[in => out]` when the call changed the length.
fn out_addr(ok: bool, a: *mut sockaddr, len: *mut socklen_t, before: Option<socklen_t>) -> String {
    if a.is_null() {
        return "NULL, NULL".into();
    }
    let after = len_at(len);
    let l = match (before, after) {
        (Some(b), Some(a)) if b != a && ok => format!("[{b} => {a}]"),
        (_, Some(a)) => format!("[{a}]"),
        _ => format!("{len:p}"),
    };
    match (ok, after) {
        (true, Some(n)) => format!("{}, {l}", addr_str(a, n.min(before.unwrap_or(n)) as usize)),
        _ => format!("{a:p}, {l}"),
    }
}

/// Bytes as strace quotes them: at most 32, escaped, `...` when longer.
fn quote(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(max) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            c => {
                let _ = write!(s, "\\{c:o}");
            }
        }
    }
    s.push('"');
    if b.len() > max {
        s.push_str("...");
    }
    s
}

fn buf_str(p: *const c_void, len: usize) -> String {
    match peek(p as usize, len.min(32)) {
        Some(b) if len > 32 => quote(&b, 32) + "...",
        Some(b) => quote(&b, 32),
        None => format!("{p:p}"),
    }
}

fn int_opt(p: *const c_void, len: usize) -> String {
    if len == 4 {
        if let Some(b) = peek(p as usize, 4) {
            return format!("[{}]", i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        }
    }
    format!("{p:p}")
}

// ---- the exported symbols ------------------------------------------------

/// # Safety
/// Standard socket(2) contract.
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::socket(domain, ty, protocol) };
    if on() {
        let e = errno();
        let call = format!(
            "socket({}, {}, {})",
            family(domain),
            sock_type(ty),
            proto_name(domain, protocol)
        );
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard socketpair(2) contract.
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::socketpair(domain, ty, protocol, sv) };
    if on() {
        let e = errno();
        let pair = match (r, peek(sv as usize, 8)) {
            (0, Some(b)) => format!(
                "[{}, {}]",
                i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                i32::from_ne_bytes([b[4], b[5], b[6], b[7]])
            ),
            _ => format!("{sv:p}"),
        };
        let call = format!(
            "socketpair({}, {}, {}, {pair})",
            family(domain),
            sock_type(ty),
            proto_name(domain, protocol)
        );
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard bind(2) contract.
#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::bind(fd, addr, len) };
    if on() {
        let e = errno();
        let call = format!("bind({fd}, {}, {len})", addr_str(addr, len as usize));
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard listen(2) contract.
#[no_mangle]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::listen(fd, backlog) };
    if on() {
        let e = errno();
        emit(&format!("listen({fd}, {backlog})"), r as i64, e);
    }
    r
}

/// # Safety
/// Standard accept4(2) contract.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let before = len_at(len);
    // SAFETY: same contract.
    let r = unsafe { socket::accept4(fd, addr, len, flags) };
    if on() {
        let e = errno();
        let fl = flag_names(
            flags,
            &[
                (libc::SOCK_CLOEXEC, "SOCK_CLOEXEC"),
                (libc::SOCK_NONBLOCK, "SOCK_NONBLOCK"),
            ],
            "0",
        );
        let call = format!(
            "accept4({fd}, {}, {fl})",
            out_addr(r >= 0, addr, len, before)
        );
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard accept(2) contract.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    let before = len_at(len);
    // SAFETY: same contract.
    let r = unsafe { socket::accept(fd, addr, len) };
    if on() {
        let e = errno();
        let call = format!("accept({fd}, {})", out_addr(r >= 0, addr, len, before));
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard connect(2) contract.
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::connect(fd, addr, len) };
    if on() {
        let e = errno();
        let call = format!("connect({fd}, {}, {len})", addr_str(addr, len as usize));
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard shutdown(2) contract.
#[no_mangle]
pub unsafe extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::shutdown(fd, how) };
    if on() {
        let e = errno();
        let h = match how {
            libc::SHUT_RD => "SHUT_RD".to_string(),
            libc::SHUT_WR => "SHUT_WR".to_string(),
            libc::SHUT_RDWR => "SHUT_RDWR".to_string(),
            h => h.to_string(),
        };
        emit(&format!("shutdown({fd}, {h})"), r as i64, e);
    }
    r
}

/// # Safety
/// Standard setsockopt(2) contract.
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { socket::setsockopt(fd, level, name, val, len) };
    if on() {
        let e = errno();
        let call = format!(
            "setsockopt({fd}, {}, {}, {}, {len})",
            level_name(level),
            opt_name(level, name),
            int_opt(val, len as usize)
        );
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard getsockopt(2) contract.
#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let before = len_at(len);
    // SAFETY: same contract.
    let r = unsafe { socket::getsockopt(fd, level, name, val, len) };
    if on() {
        let e = errno();
        let v = match (r, before, len_at(len)) {
            (0, Some(b), Some(l)) if b != l => {
                format!("{}, [{b} => {l}]", int_opt(val, l as usize))
            }
            (0, _, Some(l)) => format!("{}, [{l}]", int_opt(val, l as usize)),
            _ => format!("{val:p}, {len:p}"),
        };
        let call = format!(
            "getsockopt({fd}, {}, {}, {v})",
            level_name(level),
            opt_name(level, name)
        );
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard getsockname(2) contract.
#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    let before = len_at(len);
    // SAFETY: same contract.
    let r = unsafe { socket::getsockname(fd, addr, len) };
    if on() {
        let e = errno();
        let call = format!("getsockname({fd}, {})", out_addr(r == 0, addr, len, before));
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard getpeername(2) contract.
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    let before = len_at(len);
    // SAFETY: same contract.
    let r = unsafe { socket::getpeername(fd, addr, len) };
    if on() {
        let e = errno();
        let call = format!("getpeername({fd}, {})", out_addr(r == 0, addr, len, before));
        emit(&call, r as i64, e);
    }
    r
}

fn sendto_line(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> String {
    format!(
        "sendto({fd}, {}, {len}, {}, {}, {alen})",
        buf_str(buf, len),
        flag_names(flags, MSG_FLAGS, "0"),
        addr_str(addr, alen as usize)
    )
}

fn recvfrom_line(
    fd: c_int,
    r: ssize_t,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    out: String,
) -> String {
    let data = if r >= 0 {
        buf_str(buf, (r as usize).min(len))
    } else {
        format!("{buf:p}")
    };
    format!(
        "recvfrom({fd}, {data}, {len}, {}, {out})",
        flag_names(flags, MSG_FLAGS, "0")
    )
}

/// # Safety
/// Standard sendto(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    // SAFETY: same contract.
    let r = unsafe { io::sendto(fd, buf, len, flags, addr, alen) };
    if on() {
        let e = errno();
        emit(&sendto_line(fd, buf, len, flags, addr, alen), r as i64, e);
    }
    r
}

/// # Safety
/// Standard send(2) contract.
#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: same contract.
    let r = unsafe { io::send(fd, buf, len, flags) };
    if on() {
        let e = errno();
        let line = sendto_line(fd, buf, len, flags, std::ptr::null(), 0);
        emit(&line, r as i64, e);
    }
    r
}

/// # Safety
/// Standard recvfrom(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    let before = len_at(alen);
    // SAFETY: same contract.
    let r = unsafe { io::recvfrom(fd, buf, len, flags, addr, alen) };
    if on() {
        let e = errno();
        let out = out_addr(r >= 0, addr, alen, before);
        emit(&recvfrom_line(fd, r, buf, len, flags, out), r as i64, e);
    }
    r
}

/// # Safety
/// Standard recv(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: same contract.
    let r = unsafe { io::recv(fd, buf, len, flags) };
    if on() {
        let e = errno();
        let line = recvfrom_line(fd, r, buf, len, flags, "NULL, NULL".into());
        emit(&line, r as i64, e);
    }
    r
}

/// # Safety
/// Standard __recv_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: same contract.
    let r = unsafe { io::__recv_chk(fd, buf, len, buflen, flags) };
    if on() {
        let e = errno();
        let line = recvfrom_line(fd, r, buf, len, flags, "NULL, NULL".into());
        emit(&line, r as i64, e);
    }
    r
}

/// # Safety
/// Standard __recvfrom_chk contract.
#[no_mangle]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    let before = len_at(alen);
    // SAFETY: same contract.
    let r = unsafe { io::__recvfrom_chk(fd, buf, len, buflen, flags, addr, alen) };
    if on() {
        let e = errno();
        let out = out_addr(r >= 0, addr, alen, before);
        emit(&recvfrom_line(fd, r, buf, len, flags, out), r as i64, e);
    }
    r
}

fn msg_line(name: &str, fd: c_int, msg: *const libc::msghdr, flags: c_int) -> String {
    // SAFETY: read_val checks the address before reading it.
    let m = unsafe { uaccess::read_val(msg) };
    let body = match m {
        Ok(m) => format!(
            "{{msg_name={}, msg_namelen={}, msg_iovlen={}, msg_controllen={}, msg_flags={}}}",
            if m.msg_name.is_null() {
                "NULL".to_string()
            } else {
                addr_str(m.msg_name as *const sockaddr, m.msg_namelen as usize)
            },
            m.msg_namelen,
            m.msg_iovlen,
            m.msg_controllen,
            flag_names(m.msg_flags, MSG_FLAGS, "0")
        ),
        Err(_) => format!("{msg:p}"),
    };
    format!(
        "{name}({fd}, {body}, {})",
        flag_names(flags, MSG_FLAGS, "0")
    )
}

/// # Safety
/// Standard sendmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    // SAFETY: same contract.
    let r = unsafe { io::sendmsg(fd, msg, flags) };
    if on() {
        let e = errno();
        emit(&msg_line("sendmsg", fd, msg, flags), r as i64, e);
    }
    r
}

/// # Safety
/// Standard recvmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    // SAFETY: same contract.
    let r = unsafe { io::recvmsg(fd, msg, flags) };
    if on() {
        let e = errno();
        emit(&msg_line("recvmsg", fd, msg, flags), r as i64, e);
    }
    r
}

/// # Safety
/// Standard sendmmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { io::sendmmsg(fd, msgs, n, flags) };
    if on() {
        let e = errno();
        let call = format!(
            "sendmmsg({fd}, {msgs:p}, {n}, {})",
            flag_names(flags, MSG_FLAGS, "0")
        );
        emit(&call, r as i64, e);
    }
    r
}

/// # Safety
/// Standard recvmmsg(2) contract.
#[no_mangle]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    n: libc::c_uint,
    flags: c_int,
    timeout: *mut libc::timespec,
) -> c_int {
    // SAFETY: same contract.
    let r = unsafe { io::recvmmsg(fd, msgs, n, flags, timeout) };
    if on() {
        let e = errno();
        let call = format!(
            "recvmmsg({fd}, {msgs:p}, {n}, {}, {timeout:p})",
            flag_names(flags, MSG_FLAGS, "0")
        );
        emit(&call, r as i64, e);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_strace_does() {
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as u16;
        sin.sin_port = 80u16.to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes([10, 7, 0, 1]);
        let a = &sin as *const _ as *const sockaddr;
        assert_eq!(
            addr_str(a, 16),
            "{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"10.7.0.1\")}"
        );
        assert_eq!(addr_str(std::ptr::null(), 0), "NULL");
        // SAFETY: sockaddr_in6 is plain data; all zeroes is a valid value.
        let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        sin6.sin6_family = libc::AF_INET6 as u16;
        sin6.sin6_port = 8000u16.to_be();
        sin6.sin6_addr.s6_addr[15] = 1;
        assert_eq!(
            addr_str(&sin6 as *const _ as *const sockaddr, 28),
            "{sa_family=AF_INET6, sin6_port=htons(8000), sin6_flowinfo=htonl(0), \
             inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}"
        );
        assert_eq!(
            sock_type(libc::SOCK_STREAM | libc::SOCK_NONBLOCK),
            "SOCK_STREAM|SOCK_NONBLOCK"
        );
        assert_eq!(
            flag_names(libc::MSG_NOSIGNAL, MSG_FLAGS, "0"),
            "MSG_NOSIGNAL"
        );
        assert_eq!(flag_names(0, MSG_FLAGS, "0"), "0");
        assert_eq!(quote(b"GET /\r\n\x01", 32), "\"GET /\\r\\n\\1\"");
        assert_eq!(quote(&[b'a'; 40], 32), format!("\"{}\"...", "a".repeat(32)));
        assert_eq!(errno_name(libc::EINPROGRESS), "EINPROGRESS");
        assert_eq!(strerror(libc::EINPROGRESS), "Operation now in progress");
        assert_eq!(
            opt_name(libc::IPPROTO_TCP, libc::TCP_NODELAY),
            "TCP_NODELAY"
        );
    }
}
