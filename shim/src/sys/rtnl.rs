//! Following the namespace's addresses (issue 17): a NETLINK_ROUTE socket
//! subscribed to address changes is read without waiting before each
//! bind, connect and loopback hand-over (`Stack::set_addr_watch`); when it
//! has news (or the first time), a dump on a second, short-lived socket
//! gives lo's addresses whole (`stack::wire::rtnetlink` reads them).
//! And `rtnl_barrier`: a dump the kernel answers under the rtnl lock, to
//! wait for a linkwatch step in progress (tun.rs).
//!
//! Shared by the shim, which calls libc through its real functions (its
//! own hooks must not see these sockets), and the service, which includes
//! this file (`#[path]`) and calls libc directly: it needs only libc and
//! the stack crate.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use libc::{c_int, c_void, size_t, sockaddr, socklen_t, ssize_t};
use stack::wire::rtnetlink;

/// The libc functions the watch calls.
pub struct Sys {
    pub socket: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    pub bind: unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int,
    pub send: unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t,
    pub recv: unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int) -> ssize_t,
    pub close: unsafe extern "C" fn(c_int) -> c_int,
}

/// The subscribed socket and what the stack was last told.
pub struct AddrWatch {
    sys: Sys,
    fd: c_int,
    told: AtomicBool,
    seq: AtomicU32,
    /// One reader at a time: a dump must follow the news it answers.
    lock: Mutex<()>,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn netlink_socket(sys: &Sys) -> c_int {
    // SAFETY: plain socket(2), its result checked by the callers.
    unsafe {
        (sys.socket)(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    }
}

impl AddrWatch {
    /// A socket subscribed to IPv4 and IPv6 address changes, placed by
    /// `place` (the shim moves it among its protected high fds); None if
    /// netlink is not there.
    pub fn open(sys: Sys, place: impl FnOnce(c_int) -> c_int) -> Option<AddrWatch> {
        let fd = netlink_socket(&sys);
        if fd < 0 {
            return None;
        }
        // SAFETY: sockaddr_nl is plain data; zero is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = rtnetlink::RTMGRP_IPV4_IFADDR | rtnetlink::RTMGRP_IPV6_IFADDR;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as socklen_t;
        // SAFETY: binding our own socket to a sockaddr_nl of `len` bytes.
        if unsafe { (sys.bind)(fd, &sa as *const _ as *const sockaddr, len) } < 0 {
            // SAFETY: our socket.
            unsafe { (sys.close)(fd) };
            return None;
        }
        Some(AddrWatch {
            fd: place(fd),
            sys,
            told: AtomicBool::new(false),
            seq: AtomicU32::new(1),
            lock: Mutex::new(()),
        })
    }

    /// lo's addresses if they changed since the last call (the first call
    /// always reads them).
    pub fn poll(&self) -> Option<Vec<(IpAddr, u8)>> {
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut news = !self.told.load(Ordering::Relaxed);
        // What an event says does not matter (any one means: dump again),
        // so each is read into a few bytes and the rest of it dropped
        // (a netlink datagram longer than the buffer is cut): a 4 KiB
        // buffer zeroed per call was 6% of sockshimd's instructions per
        // TCP_CRR connection.
        let mut buf = [0u8; 16];
        loop {
            // SAFETY: reading into our buffer, without waiting.
            let n = unsafe {
                (self.sys.recv)(
                    self.fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            match n {
                n if n > 0 => news = true,
                // Events were lost: read everything again.
                _ if n < 0 && errno() == libc::ENOBUFS => news = true,
                _ if n < 0 && errno() == libc::EINTR => {}
                _ => break,
            }
        }
        if !news {
            return None;
        }
        let addrs = self.dump()?;
        self.told.store(true, Ordering::Relaxed);
        Some(addrs)
    }

    /// Every address of lo, from an RTM_GETADDR dump.
    fn dump(&self) -> Option<Vec<(IpAddr, u8)>> {
        let req = rtnetlink::getaddr_dump_request(self.seq.fetch_add(1, Ordering::Relaxed));
        let mut out = Vec::new();
        run_dump(&self.sys, &req, |buf| {
            rtnetlink::parse_addrs(buf, LOOPBACK_IFINDEX, &mut out)
        })
        .then_some(out)
    }
}

/// Send the dump request `req` on a short-lived socket and give each
/// buffer of the answer to `read` until it says the dump is over; true
/// when it was.
fn run_dump(sys: &Sys, req: &[u8], mut read: impl FnMut(&[u8]) -> bool) -> bool {
    let s = netlink_socket(sys);
    if s < 0 {
        return false;
    }
    // SAFETY: sending our request on our socket.
    let sent = unsafe { (sys.send)(s, req.as_ptr().cast(), req.len(), 0) };
    let mut done = false;
    let mut buf = vec![0u8; 32 * 1024];
    while sent == req.len() as ssize_t && !done {
        // SAFETY: reading into our buffer; the kernel answers at once.
        let n = unsafe { (sys.recv)(s, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        done = read(&buf[..n as usize]);
    }
    // SAFETY: our socket.
    unsafe { (sys.close)(s) };
    done
}

/// Returns once the rtnl lock was free after the call began: the kernel
/// answers a dump of the queueing disciplines under that lock. linkwatch
/// holds it from marking a device running (IFF_RUNNING) to activating its
/// queueing discipline, until which the device drops what is routed to
/// it; so after seeing a device running, this is the wait for the rest of
/// that step, however long the kernel's worker took. False when netlink
/// could not be used (the caller then waits a fixed time).
pub fn rtnl_barrier(sys: &Sys) -> bool {
    run_dump(
        sys,
        &rtnetlink::getqdisc_dump_request(1),
        rtnetlink::dump_over,
    )
}

const LOOPBACK_IFINDEX: u32 = 1;
