//! setsockopt/getsockopt (FreeBSD's sosetopt/sogetopt): SOL_SOCKET here,
//! with Linux's values, doubling of buffer sizes and optlen rules; every
//! other level goes to the protocol (`pru_ctloutput_*`), which routes it as
//! Linux's inet sockets do.

use crate::api::SockType;
use crate::errno::Errno;
use crate::kern::sk_filter::SkFilter;
use crate::kern::socket::Socket;
use crate::kern::sotable::SoCx;
use crate::linux::*;
use crate::time::Instant;

/// Linux's SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on 64-bit kernels.
pub const SOCK_MIN_SNDBUF: usize = 4608;
pub const SOCK_MIN_RCVBUF: usize = 2304;

/// CONFIG_HZ of the kernel we mirror (its timeouts round to 4 ms jiffies).
const LINUX_HZ: i64 = 250;

/// An int option's value from the caller's bytes (EINVAL if shorter).
pub fn sooptcopyin_int(val: &[u8]) -> Result<i32, Errno> {
    match val.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Errno::EINVAL),
    }
}

/// Write an option value truncated to the caller's length, as Linux does;
/// returns the length written.
pub fn sooptcopyout(out: &mut [u8], bytes: &[u8]) -> usize {
    let n = out.len().min(bytes.len());
    out[..n].copy_from_slice(&bytes[..n]);
    n
}

pub fn sosetopt<C: SoCx>(
    cx: &C,
    now: Instant,
    so: &mut Socket,
    level: i32,
    name: i32,
    val: &[u8],
) -> Result<(), Errno> {
    if level != SOL_SOCKET {
        return cx.pr(so).pru_ctloutput_set(cx, now, so, level, name, val);
    }
    if name == SO_LINGER {
        if val.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let onoff = sooptcopyin_int(&val[..4])?;
        let linger = sooptcopyin_int(&val[4..8])?;
        let o = &mut so.so_options;
        if onoff != 0 {
            // A negative l_linger, widened to unsigned long, is past
            // Linux's limit: it lingers MAX_SCHEDULE_TIMEOUT jiffies,
            // which reads back as LONG_MAX / HZ cut to an int.
            let (secs, reads) = match u32::try_from(linger) {
                Ok(s) => (s, linger),
                Err(_) => (u32::MAX, (i64::MAX / LINUX_HZ) as i32),
            };
            o.linger = Some(secs);
            o.lingertime = reads;
        } else {
            o.linger = None;
        }
        return Ok(());
    }
    let v = sooptcopyin_int(val)?;
    match name {
        SO_ATTACH_FILTER => {
            // Linux's sk_attach_filter: a locked filter stays; then what
            // copying the program in found; then bpf_check_classic.
            if so.so_options.lock_filter {
                return Err(Errno::EPERM);
            }
            match v {
                0 => {}
                x => return Err(Errno(x)),
            }
            let f = SkFilter::new(&val[4..])?;
            so.so_filter = Some(std::sync::Arc::new(f));
            return Ok(());
        }
        SO_DETACH_FILTER => {
            if so.so_options.lock_filter {
                return Err(Errno::EPERM);
            }
            return match so.so_filter.take() {
                Some(_) => Ok(()),
                None => Err(Errno::ENOENT),
            };
        }
        SO_LOCK_FILTER => {
            if so.so_options.lock_filter && v == 0 {
                return Err(Errno::EPERM);
            }
            so.so_options.lock_filter = v != 0;
            return Ok(());
        }
        _ => {}
    }
    let sys = cx.sysctl();
    let o = &mut so.so_options;
    match name {
        SO_REUSEADDR | SO_REUSEPORT => {
            if name == SO_REUSEADDR {
                o.reuseaddr = v != 0;
            } else {
                o.reuseport = v != 0;
            }
            // The port table keeps the flags conflicts are decided on.
            cx.pr(so)
                .pru_ctloutput_set(cx, now, so, SOL_SOCKET, name, val)?;
        }
        SO_KEEPALIVE => {
            o.keepalive = v != 0;
            cx.pr(so)
                .pru_ctloutput_set(cx, now, so, SOL_SOCKET, SO_KEEPALIVE, val)?;
        }
        SO_BROADCAST => o.broadcast = v != 0,
        SO_OOBINLINE => o.oobinline = v != 0,
        SO_DONTROUTE => o.dontroute = v != 0,
        SO_DEBUG => o.debug = v != 0,
        SO_PRIORITY => o.priority = v as u32,
        // Linux wants CAP_NET_ADMIN or CAP_NET_RAW here (else EPERM);
        // the stack does not know the caller's capabilities.
        SO_MARK => o.mark = v as u32,
        SO_SNDBUF | SO_SNDBUFFORCE => {
            let cap = if name == SO_SNDBUF {
                sys.wmem_max
            } else {
                i32::MAX as usize
            };
            let v = (v as u32 as usize).min(cap);
            so.so_snd.user_locked = true;
            so.so_snd
                .set_hiwat((v * 2).clamp(SOCK_MIN_SNDBUF, i32::MAX as usize));
            cx.sockets().sowakeup(so.handle);
        }
        SO_RCVBUF | SO_RCVBUFFORCE => {
            let cap = if name == SO_RCVBUF {
                sys.rmem_max
            } else {
                i32::MAX as usize
            };
            o.rcvbuf_lock = true;
            let v = (v as u32 as usize).min(cap);
            so.so_rcv.user_locked = true;
            so.so_rcv
                .set_hiwat((v * 2).clamp(SOCK_MIN_RCVBUF, i32::MAX as usize));
        }
        SO_RCVLOWAT => {
            let v = if v < 0 { i32::MAX } else { v } as usize;
            cx.pr(so).pru_rcvlowat(cx, so, v);
        }
        SO_ZEROCOPY => {
            if !(0..=1).contains(&v) {
                return Err(Errno::EINVAL);
            }
            o.zerocopy = v == 1;
        }
        SO_NO_CHECK => o.no_check = v != 0,
        // sock_set_timestamp: TIMESTAMPNS sets both flags, TIMESTAMP
        // clears NS; 0 clears both.
        SO_TIMESTAMP | SO_TIMESTAMPNS => {
            o.rcvtstamp = v != 0;
            o.rcvtstampns = v != 0 && name == SO_TIMESTAMPNS;
        }
        SO_RXQ_OVFL => o.rxq_ovfl = v != 0,
        SO_WIFI_STATUS => o.wifi_status = v != 0,
        SO_NOFCS => o.nofcs = v != 0,
        SO_SELECT_ERR_QUEUE => o.select_err_queue = v != 0,
        SO_TIMESTAMPING | SO_TIMESTAMPING_NEW => {
            // The flags (an int, or struct so_timestamping's first word).
            let flags = v as u32;
            if flags & !SOF_TIMESTAMPING_MASK != 0 {
                return Err(Errno::EINVAL);
            }
            // The protocol keeps the flags and what they need (TCP: the
            // key origin, tcp_tstamp.rs); one that keeps nothing does not
            // take the option.
            cx.pr(so)
                .pru_ctloutput_set(cx, now, so, SOL_SOCKET, SO_TIMESTAMPING, val)?;
        }
        SO_BUSY_POLL => {
            if v < 0 {
                return Err(Errno::EINVAL);
            }
            o.busy_poll = v as u32;
        }
        // Only AF_UNIX and netlink sockets pass credentials or contexts.
        SO_PASSCRED | SO_PASSSEC => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

pub fn sogetopt<C: SoCx>(
    cx: &C,
    so: &mut Socket,
    level: i32,
    name: i32,
    out: &mut [u8],
) -> Result<usize, Errno> {
    if level != SOL_SOCKET {
        return cx.pr(so).pru_ctloutput_get(cx, so, level, name, out);
    }
    if name == SO_MEMINFO {
        // Linux's sk_get_meminfo, u32[SK_MEMINFO_VARS]: here in bytes
        // of data (Linux counts skb truesize, so its figures are larger).
        let mem: [u32; 9] = [
            so.so_rcv.ring().len() as u32, // RMEM_ALLOC
            so.so_rcv.sb_hiwat() as u32,   // RCVBUF
            0,                             // WMEM_ALLOC (nothing in a qdisc)
            so.so_snd.sb_hiwat() as u32,   // SNDBUF
            0,                             // FWD_ALLOC
            so.so_snd.ring().len() as u32, // WMEM_QUEUED
            0,                             // OPTMEM
            0,                             // BACKLOG
            0,                             // DROPS
        ];
        let mut b = [0u8; 36];
        for (i, v) in mem.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        return Ok(sooptcopyout(out, &b));
    }
    if name == SO_LINGER {
        let o = so.so_options;
        let onoff = o.linger.is_some() as i32;
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&onoff.to_ne_bytes());
        b[4..].copy_from_slice(&o.lingertime.to_ne_bytes());
        return Ok(sooptcopyout(out, &b));
    }
    if name == SO_TIMESTAMPING || name == SO_TIMESTAMPING_NEW {
        // Kept by the protocol that takes them (none set: 0).
        let pr = cx.pr(so);
        return pr
            .pru_ctloutput_get(cx, so, SOL_SOCKET, SO_TIMESTAMPING, out)
            .or_else(|_| Ok(sooptcopyout(out, &0i32.to_ne_bytes())));
    }
    if name == SO_GET_FILTER {
        // The program as attached (none: nothing); the caller's length
        // counts instructions (Linux's sk_get_filter): the shim applies
        // that rule.
        let b = so
            .so_filter
            .as_ref()
            .map(|f| f.to_bytes())
            .unwrap_or_default();
        return Ok(sooptcopyout(out, &b));
    }
    let o = so.so_options;
    let v: i32 = match name {
        SO_TYPE => match so.so_type {
            SockType::Stream => SOCK_STREAM,
            SockType::Dgram => SOCK_DGRAM,
        },
        SO_ERROR => {
            let e = so.take_error();
            e.or_else(|| cx.pr(so).pru_take_softerror(so))
                .map_or(0, |e| e.0)
        }
        SO_DOMAIN => match so.so_domain {
            crate::api::Domain::Inet => AF_INET,
            crate::api::Domain::Inet6 => AF_INET6,
        },
        SO_PROTOCOL => cx.pr(so).pr_protocol(),
        SO_ACCEPTCONN => o.acceptconn as i32,
        SO_REUSEADDR => o.reuseaddr as i32,
        SO_REUSEPORT => o.reuseport as i32,
        SO_KEEPALIVE => o.keepalive as i32,
        SO_BROADCAST => o.broadcast as i32,
        SO_OOBINLINE => o.oobinline as i32,
        SO_DONTROUTE => o.dontroute as i32,
        SO_DEBUG => o.debug as i32,
        SO_PRIORITY => o.priority as i32,
        SO_MARK => o.mark as i32,
        SO_SNDBUF => so.so_snd.sb_hiwat() as i32,
        SO_RCVBUF => so.so_rcv.sb_hiwat() as i32,
        SO_RCVLOWAT => so.so_rcv.sb_lowat as i32,
        SO_SNDLOWAT => 1,
        SO_ZEROCOPY => o.zerocopy as i32,
        SO_NO_CHECK => o.no_check as i32,
        SO_TIMESTAMP => (o.rcvtstamp && !o.rcvtstampns) as i32,
        SO_TIMESTAMPNS => o.rcvtstampns as i32,
        SO_RXQ_OVFL => o.rxq_ovfl as i32,
        SO_WIFI_STATUS => o.wifi_status as i32,
        SO_NOFCS => o.nofcs as i32,
        SO_SELECT_ERR_QUEUE => o.select_err_queue as i32,
        SO_BUSY_POLL => o.busy_poll as i32,
        SO_LOCK_FILTER => o.lock_filter as i32,
        SO_PASSCRED | SO_PASSSEC => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::ENOPROTOOPT),
    };
    Ok(sooptcopyout(out, &v.to_ne_bytes()))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddrV4;
    use std::time::Duration;

    use crate::linux::*;
    use crate::netinet::tcp_var::TcpState;
    use crate::testing::pair::{Pair, B_ADDR};
    use crate::{Errno, SockType, SocketHandle, Stack};

    fn get(s: &Stack, h: SocketHandle, level: i32, name: i32) -> Result<i32, Errno> {
        let mut b = [0u8; 4];
        assert_eq!(s.getsockopt(h, level, name, &mut b)?, 4);
        Ok(i32::from_ne_bytes(b))
    }

    fn set(p: &Pair, h: SocketHandle, level: i32, name: i32, v: i32) -> Result<(), Errno> {
        p.a.setsockopt(p.now, h, level, name, &v.to_ne_bytes())
    }

    fn linger(p: &Pair, h: SocketHandle) -> (i32, i32) {
        let mut b = [0u8; 8];
        assert_eq!(p.a.getsockopt(h, SOL_SOCKET, SO_LINGER, &mut b), Ok(8));
        let w = |i: usize| i32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
        (w(0), w(4))
    }

    fn set_linger(p: &Pair, h: SocketHandle, onoff: i32, secs: i32) {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&onoff.to_ne_bytes());
        b[4..].copy_from_slice(&secs.to_ne_bytes());
        p.a.setsockopt(p.now, h, SOL_SOCKET, SO_LINGER, &b).unwrap();
    }

    #[test]
    fn levels_route_like_linux_inet_sockets() {
        let p = Pair::new(1);
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        let mut b = [0u8; 4];
        // Another transport's level, or an unknown one: ip_getsockopt's
        // EOPNOTSUPP on get, ip_setsockopt's ENOPROTOOPT on set.
        assert_eq!(p.a.getsockopt(t, 9999, 1, &mut b), Err(Errno::EOPNOTSUPP));
        assert_eq!(set(&p, t, 9999, 1, 1), Err(Errno::ENOPROTOOPT));
        assert_eq!(
            p.a.getsockopt(t, IPPROTO_UDP, 1, &mut b),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            get(&p.a, u, IPPROTO_TCP, TCP_NODELAY),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            set(&p, u, IPPROTO_TCP, TCP_NODELAY, 1),
            Err(Errno::ENOPROTOOPT)
        );
        // Unknown options of a known level.
        assert_eq!(get(&p.a, u, IPPROTO_UDP, 9999), Err(Errno::ENOPROTOOPT));
        assert_eq!(get(&p.a, t, IPPROTO_TCP, 9999), Err(Errno::ENOPROTOOPT));
        assert_eq!(get(&p.a, t, IPPROTO_IP, 9999), Err(Errno::ENOPROTOOPT));
        assert_eq!(get(&p.a, u, IPPROTO_UDP, UDP_CORK), Ok(0));
        // Read-only options cannot be set.
        for name in [SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ERROR, SO_ACCEPTCONN] {
            assert_eq!(set(&p, t, SOL_SOCKET, name, 1), Err(Errno::ENOPROTOOPT));
        }
    }

    #[test]
    fn fresh_sockets_report_linux_defaults() {
        let p = Pair::new(2);
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        for (h, level, name, v) in [
            (t, SOL_SOCKET, SO_MARK, 0),
            (t, IPPROTO_IP, IP_MULTICAST_TTL, 1),
            (t, IPPROTO_IP, IP_MULTICAST_LOOP, 1),
            (t, IPPROTO_IP, IP_MTU_DISCOVER, 1),
            (t, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0),
            (t, IPPROTO_TCP, TCP_LINGER2, 60),
            (u, IPPROTO_IP, IP_PKTINFO, 0),
            (u, IPPROTO_IP, IP_RECVERR, 0),
        ] {
            assert_eq!(get(&p.a, h, level, name), Ok(v), "option {level}/{name}");
        }
        assert_eq!(linger(&p, t), (0, 0));
    }

    #[test]
    fn so_linger_off_keeps_the_time() {
        let p = Pair::new(3);
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        set_linger(&p, t, 1, 5);
        assert_eq!(linger(&p, t), (1, 5));
        set_linger(&p, t, 0, 7);
        assert_eq!(linger(&p, t), (0, 5), "l_onoff 0 keeps sk_lingertime");
        set_linger(&p, t, 3, 100_000);
        assert_eq!(linger(&p, t), (1, 100_000));
        set_linger(&p, t, 1, -1);
        assert_eq!(
            linger(&p, t),
            (1, (i64::MAX / 250) as i32),
            "MAX_SCHEDULE_TIMEOUT / HZ, cut to an int"
        );
        let mut b = [0xeeu8; 8];
        assert_eq!(p.a.getsockopt(t, SOL_SOCKET, SO_LINGER, &mut b[..4]), Ok(4));
        assert_eq!(&b[..4], &1i32.to_ne_bytes());
        assert_eq!(
            p.a.setsockopt(p.now, t, SOL_SOCKET, SO_LINGER, &[0; 4]),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn ip_options_take_one_byte_and_tcp_keeps_ecn_bits() {
        let p = Pair::new(4);
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        p.a.setsockopt(p.now, t, IPPROTO_IP, IP_TTL, &[77]).unwrap();
        p.a.setsockopt(p.now, t, IPPROTO_IP, IP_TOS, &[77]).unwrap();
        assert_eq!(
            p.a.setsockopt(p.now, t, IPPROTO_IP, IP_TTL, &[]),
            Err(Errno::EINVAL)
        );
        let mut b = [0xeeu8; 2];
        assert_eq!(p.a.getsockopt(t, IPPROTO_IP, IP_TTL, &mut b[..1]), Ok(1));
        assert_eq!(b, [77, 0xee]);
        assert_eq!(p.a.getsockopt(t, IPPROTO_IP, IP_TOS, &mut b[..1]), Ok(1));
        assert_eq!(b[0], 76, "TCP leaves the ECN bits alone");
        set(&p, u, IPPROTO_IP, IP_TOS, 0xff).unwrap();
        assert_eq!(get(&p.a, u, IPPROTO_IP, IP_TOS), Ok(0xff));
        assert_eq!(
            set(&p, t, IPPROTO_IP, IP_MULTICAST_TTL, 3),
            Err(Errno::EINVAL)
        );
        set(&p, u, IPPROTO_IP, IP_MULTICAST_TTL, -1).unwrap();
        assert_eq!(get(&p.a, u, IPPROTO_IP, IP_MULTICAST_TTL), Ok(1));
        set(&p, u, IPPROTO_IP, IP_RECVERR, 5).unwrap();
        assert_eq!(get(&p.a, u, IPPROTO_IP, IP_RECVERR), Ok(1));
        assert_eq!(
            set(&p, u, IPPROTO_IP, IP_MTU_DISCOVER, 6),
            Err(Errno::EINVAL)
        );
        set(&p, t, SOL_SOCKET, SO_MARK, 7).unwrap();
        assert_eq!(get(&p.a, t, SOL_SOCKET, SO_MARK), Ok(7));
    }

    #[test]
    fn tcp_linger2_negative_caps_and_default() {
        let p = Pair::new(5);
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        for (v, reads) in [(10, 10), (0, 60), (-1, -1), (1000, 120)] {
            set(&p, t, IPPROTO_TCP, TCP_LINGER2, v).unwrap();
            assert_eq!(get(&p.a, t, IPPROTO_TCP, TCP_LINGER2), Ok(reads), "set {v}");
        }
    }

    #[test]
    fn tcp_linger2_negative_resets_on_close_in_fin_wait_2() {
        for (linger2, b_state) in [(0, TcpState::CloseWait), (-1, TcpState::Closed)] {
            let mut p = Pair::new(6);
            let (_l, c, s) = p.connected(80);
            p.a.shutdown(p.now, c, SHUT_WR).unwrap();
            p.drive();
            assert_eq!(
                p.a.tcp_info(c).unwrap().tcpi_state,
                TcpState::FinWait2.linux_number()
            );
            set(&p, c, IPPROTO_TCP, TCP_LINGER2, linger2).unwrap();
            p.a.close(p.now, c).unwrap();
            p.drive_for(Duration::from_secs(1));
            assert_eq!(
                p.b.tcp_info(s).unwrap().tcpi_state,
                b_state.linux_number(),
                "TCP_LINGER2 {linger2}: the peer after our close"
            );
        }
    }

    #[test]
    fn rcvlowat_caps_like_linux() {
        let mut p = Pair::with_config(7, |c| c.sysctl.tcp_rmem[2] = 33_554_432);
        let (_l, c, _s) = p.connected(80);
        set(&p, c, SOL_SOCKET, SO_RCVLOWAT, 0).unwrap();
        assert_eq!(get(&p.a, c, SOL_SOCKET, SO_RCVLOWAT), Ok(1));
        set(&p, c, SOL_SOCKET, SO_RCVLOWAT, 100_000).unwrap();
        assert_eq!(get(&p.a, c, SOL_SOCKET, SO_RCVLOWAT), Ok(100_000));
        assert!(
            get(&p.a, c, SOL_SOCKET, SO_RCVBUF).unwrap() >= 200_000,
            "the buffer grows to hold the mark"
        );
        set(&p, c, SOL_SOCKET, SO_RCVLOWAT, -5).unwrap();
        assert_eq!(
            get(&p.a, c, SOL_SOCKET, SO_RCVLOWAT),
            Ok(16_777_216),
            "INT_MAX capped at tcp_rmem[2] / 2"
        );
        // With SO_RCVBUF set, half the buffer is the cap.
        let t = p.a.socket(SockType::Stream, 0).unwrap();
        set(&p, t, SOL_SOCKET, SO_RCVBUF, 5000).unwrap();
        set(&p, t, SOL_SOCKET, SO_RCVLOWAT, -5).unwrap();
        assert_eq!(get(&p.a, t, SOL_SOCKET, SO_RCVLOWAT), Ok(5000));
        assert_eq!(get(&p.a, t, SOL_SOCKET, SO_RCVBUF), Ok(10_000));
        // UDP has no cap.
        let u = p.a.socket(SockType::Dgram, 0).unwrap();
        set(&p, u, SOL_SOCKET, SO_RCVLOWAT, -5).unwrap();
        assert_eq!(get(&p.a, u, SOL_SOCKET, SO_RCVLOWAT), Ok(i32::MAX));
        p.drive();
    }

    #[test]
    fn notsent_lowat_limits_writability() {
        let mut p = Pair::new(8);
        let (_l, c, _s) = p.connected(80);
        // Room to spare in the buffer: only the mark can block writing.
        set(&p, c, SOL_SOCKET, SO_SNDBUF, 1 << 20).unwrap();
        set(&p, c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 1000).unwrap();
        assert_eq!(get(&p.a, c, IPPROTO_TCP, TCP_NOTSENT_LOWAT), Ok(1000));
        assert!(p.a.sopoll(c).contains(crate::Readiness::OUT));
        // More than the initial window: the write stops at the first skb
        // boundary past the mark (tcp_notsent.rs), the rest waits unsent.
        let n = p.a.send(p.now, c, &[7u8; 100_000], 0, None).unwrap();
        assert!((1000..100_000).contains(&n), "{n}");
        assert!(
            !p.a.sopoll(c).contains(crate::Readiness::OUT),
            "unsent bytes over the mark: not writable"
        );
        assert_eq!(p.a.send(p.now, c, &[7u8; 10], 0, None), Err(Errno::EAGAIN));
        set(&p, c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0).unwrap();
        assert!(p.a.sopoll(c).contains(crate::Readiness::OUT));
    }

    #[test]
    fn the_notsent_lowat_sysctl_marks_a_socket_without_the_option() {
        // Linux's tcp_notsent_lowat(): the option, else the sysctl; the
        // option reads 0 (its own value) all the same.
        let mut p = Pair::with_config(9, |c| c.sysctl.tcp_notsent_lowat = 1000);
        let (l, c, s) = p.connected(80);
        set(&p, c, SOL_SOCKET, SO_SNDBUF, 1 << 20).unwrap();
        assert_eq!(get(&p.a, c, IPPROTO_TCP, TCP_NOTSENT_LOWAT), Ok(0));
        let n = p.a.send(p.now, c, &[7u8; 100_000], 0, None).unwrap();
        assert!((1000..100_000).contains(&n), "stops past the mark: {n}");
        assert!(!p.a.sopoll(c).contains(crate::Readiness::OUT));
        // The option overrides it.
        set(&p, c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 1 << 30).unwrap();
        assert!(p.a.sopoll(c).contains(crate::Readiness::OUT));
        // An accepted socket takes its listener's option (Linux clones
        // the listener's tcp_sock), and reads 0 without it.
        assert_eq!(get(&p.b, s, IPPROTO_TCP, TCP_NOTSENT_LOWAT), Ok(0));
        p.b.setsockopt(
            p.now,
            l,
            IPPROTO_TCP,
            TCP_NOTSENT_LOWAT,
            &3000i32.to_ne_bytes(),
        )
        .unwrap();
        let c2 = p.a.socket(SockType::Stream, 0).unwrap();
        let _ =
            p.a.connect(p.now, c2, Some(SocketAddrV4::new(B_ADDR, 80).into()));
        p.drive();
        let (s2, _) = p.b.accept(l).unwrap();
        assert_eq!(get(&p.b, s2, IPPROTO_TCP, TCP_NOTSENT_LOWAT), Ok(3000));
    }

    #[test]
    fn a_paced_send_that_makes_the_socket_writable_under_notsent_lowat_is_a_change() {
        // BBR paces (this machine's default): at a 10 Mbit/s bottleneck
        // the data an ACK allows leaves later, from the pacing timer. A
        // poll(POLLOUT) waits for the socket's change, so the send that
        // takes the unsent bytes below the mark must be one (packetdrill's
        // notsent-lowat-setsockopt slept to its 1 s timeout before).
        let mut p = Pair::new(8);
        p.bottleneck = Some(crate::testing::bottleneck::Bottleneck::new(
            1_250_000, 100_000,
        ));
        let (_l, c, s) = p.connected(80);
        p.a.setsockopt(p.now, c, IPPROTO_TCP, TCP_CONGESTION, b"bbr")
            .unwrap();
        set(&p, c, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 4000).unwrap();
        let mut changed = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut woken = 0;
        for _ in 0..20 {
            while p.a.send(p.now, c, &[7u8; 60_000], 0, None).is_ok() {}
            assert!(!p.a.sopoll(c).contains(crate::Readiness::OUT));
            p.a.drain_changed(&mut changed);
            for _ in 0..1_000_000 {
                let moved = p.step();
                let _ = p.b.recv(p.now, s, &mut buf, 0);
                changed.clear();
                p.a.drain_changed(&mut changed);
                if p.a.sopoll(c).contains(crate::Readiness::OUT) {
                    assert!(changed.contains(&c), "writable, and no change said so");
                    woken += 1;
                    break;
                }
                if !moved {
                    let next = [p.a.poll_timeout(), p.b.poll_timeout()]
                        .into_iter()
                        .flatten()
                        .min();
                    p.now = p.now.max(next.expect("something is due"));
                }
            }
        }
        assert_eq!(woken, 20);
        p.drive();
    }

    #[test]
    fn listen_again_over_time_wait_with_reuseaddr() {
        let mut p = Pair::new(9);
        let one = 1i32.to_ne_bytes();
        let l = p.b.socket(SockType::Stream, 0).unwrap();
        p.b.setsockopt(p.now, l, SOL_SOCKET, SO_REUSEADDR, &one)
            .unwrap();
        p.b.bind(l, SocketAddrV4::new(B_ADDR, 80)).unwrap();
        p.b.listen(l, 5).unwrap();
        let c = p.a.socket(SockType::Stream, 0).unwrap();
        let _ =
            p.a.connect(p.now, c, Some(SocketAddrV4::new(B_ADDR, 80).into()));
        p.drive();
        let (s, _) = p.b.accept(l).unwrap();
        p.b.close(p.now, s).unwrap(); // B first: B's side goes to TIME_WAIT
        p.b.close(p.now, l).unwrap();
        p.drive_for(Duration::from_millis(100));
        p.a.close(p.now, c).unwrap();
        p.drive_for(Duration::from_millis(100));
        let again = p.b.socket(SockType::Stream, 0).unwrap();
        assert_eq!(
            p.b.bind(again, SocketAddrV4::new(B_ADDR, 80)),
            Err(Errno::EADDRINUSE),
            "TIME_WAIT holds the port without SO_REUSEADDR"
        );
        p.b.close(p.now, again).unwrap();
        let again = p.b.socket(SockType::Stream, 0).unwrap();
        p.b.setsockopt(p.now, again, SOL_SOCKET, SO_REUSEADDR, &one)
            .unwrap();
        p.b.bind(again, SocketAddrV4::new(B_ADDR, 80)).unwrap();
        assert_eq!(p.b.listen(again, 5), Ok(()), "the server restarts");
    }
}
