//! TCP's socket options (FreeBSD's tcp_ctloutput): the int options of
//! IPPROTO_TCP with Linux's ranges and errno, SO_KEEPALIVE's timer, the
//! IPPROTO_IP options through `ip_ctloutput_*`, and SO_RCVLOWAT as Linux's
//! tcp_set_rcvlowat. `tcp_usrreq`'s `pru_ctloutput_*` read the caller's
//! bytes and route the level; the values arrive here as ints.

use std::time::Duration;

use crate::errno::Errno;
use crate::kern::socket::Socket;
use crate::kern::sockopt::SOCK_MIN_RCVBUF;
use crate::linux::*;
use crate::netinet::inet::InetCx;
use crate::netinet::ip;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_fastopen::TFO_CLIENT_ENABLE;
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_subr::tcp_timer_sync;
use crate::netinet::tcp_var::{TcpState, TCP_DEFAULT_MSS};
use crate::time::Instant;

/// Linux's TCP_FIN_TIMEOUT_MAX in seconds: the largest TCP_LINGER2.
const TCP_FIN_TIMEOUT_MAX: i32 = 120;

/// TCP's int options (and SO_KEEPALIVE, IPPROTO_IP's through
/// `ip_ctloutput_set`), the value already read from the caller's bytes.
pub(crate) fn tcp_ctloutput_set(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    level: i32,
    name: i32,
    v: i32,
) -> Result<(), Errno> {
    let keepalive = so.so_options.keepalive;
    let snd_cc = so.so_snd.ring().len();
    let tp = so.so_pcb.tcp_mut().ok_or(Errno::ENOPROTOOPT)?;
    let secs = |v: i32, max: i32| {
        if (1..=max).contains(&v) {
            Ok(Duration::from_secs(v as u64))
        } else {
            Err(Errno::EINVAL)
        }
    };
    match (level, name) {
        (IPPROTO_IP, _) => {
            return ip::ip_ctloutput_set(&mut tp.inp, cx.sysctl().ip_default_ttl, true, name, v)
        }
        (SOL_SOCKET, SO_TIMESTAMPING) => {
            crate::netinet::tcp_tstamp::tcp_set_timestamping(tp, v as u32, snd_cc)?;
        }
        (SOL_SOCKET, SO_KEEPALIVE) => {
            tp.t_timers.keep = if v != 0 && tp.t_state.synchronized() {
                Some(now + tp.keepidle)
            } else {
                None
            };
        }
        (IPPROTO_TCP, TCP_NODELAY) => {
            tp.nodelay = v != 0;
            if tp.nodelay {
                // Linux's __tcp_sock_set_nodelay: push what is held.
                tcp_push_held(cx, now, so);
            }
        }
        (IPPROTO_TCP, TCP_CORK) => {
            tp.cork = v != 0;
            if !tp.cork {
                // __tcp_sock_set_cork(false): push, forced with NODELAY.
                let forced = tp.nodelay;
                tp.nagle_push = forced;
                tcp_push_held(cx, now, so);
            }
        }
        (IPPROTO_TCP, TCP_INQ) => {
            if !(0..=1).contains(&v) {
                return Err(Errno::EINVAL);
            }
            tp.recvmsg_inq = v == 1;
        }
        (IPPROTO_TCP, TCP_MAXSEG) => {
            if v != 0 && !(88..=32767).contains(&v) {
                return Err(Errno::EINVAL);
            }
            tp.user_mss = v as u16;
        }
        (IPPROTO_TCP, TCP_KEEPIDLE) => {
            tp.keepidle = secs(v, 32767)?.into();
            if keepalive && tp.t_state.synchronized() {
                tp.t_timers.keep = Some(now + tp.keepidle);
            }
        }
        (IPPROTO_TCP, TCP_KEEPINTVL) => tp.keepintvl = secs(v, 32767)?.into(),
        (IPPROTO_TCP, TCP_KEEPCNT) => {
            if !(1..=127).contains(&v) {
                return Err(Errno::EINVAL);
            }
            tp.keepcnt = v as u8;
        }
        (IPPROTO_TCP, TCP_SYNCNT) => {
            if !(1..=127).contains(&v) {
                return Err(Errno::EINVAL);
            }
            tp.syn_retries = v as u8;
        }
        (IPPROTO_TCP, TCP_LINGER2) => {
            // Linux: < 0 means no FIN_WAIT_2 at all (kept as ZERO),
            // 0 the sysctl, larger values capped at 120 s.
            tp.linger2 = match v {
                v if v < 0 => Some(crate::time::Secs::ZERO),
                0 => None,
                v => Some(Duration::from_secs(v.min(TCP_FIN_TIMEOUT_MAX) as u64).into()),
            }
        }
        (IPPROTO_TCP, TCP_NOTSENT_LOWAT) => {
            tp.notsent_lowat = v as u32;
            cx.sockets().sowakeup(so.handle);
        }
        (IPPROTO_TCP, TCP_DEFER_ACCEPT) => tp.defer_accept = secs_to_retrans(v),
        (IPPROTO_TCP, TCP_USER_TIMEOUT) => {
            if v < 0 {
                return Err(Errno::EINVAL);
            }
            tp.user_timeout = v as u32;
        }
        // tcp_set_window_clamp: 0 only on a closed socket; else at least
        // half of SOCK_MIN_RCVBUF.
        (IPPROTO_TCP, TCP_WINDOW_CLAMP) => {
            if v == 0 {
                if tp.t_state != TcpState::Closed {
                    return Err(Errno::EINVAL);
                }
                tp.window_clamp = 0;
            } else {
                tp.window_clamp = v.max(SOCK_MIN_RCVBUF as i32 / 2) as u32;
            }
        }
        // 0 enters pingpong (delayed-ACK) mode, anything else leaves it.
        (IPPROTO_TCP, TCP_QUICKACK) => tp.pingpong = v == 0,
        (IPPROTO_TCP, TCP_FASTOPEN) => {
            if v < 0 || !matches!(tp.t_state, TcpState::Closed | TcpState::Listen) {
                return Err(Errno::EINVAL);
            }
            tp.fastopen_qlen = (v as u32).min(cx.sysctl().somaxconn);
        }
        (IPPROTO_TCP, TCP_FASTOPEN_CONNECT) => {
            if !(0..=1).contains(&v) {
                return Err(Errno::EINVAL);
            }
            if cx.sysctl().tcp_fastopen & TFO_CLIENT_ENABLE == 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if tp.t_state != TcpState::Closed {
                return Err(Errno::EINVAL);
            }
            tp.fastopen_connect = v == 1;
        }
        (IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE) => {
            if !(0..=1).contains(&v) {
                return Err(Errno::EINVAL);
            }
            tp.fastopen_no_cookie = v == 1;
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    tcp_timer_sync(cx, so);
    Ok(())
}

/// Send what Nagle or the cork held (`nagle_push` says whether a partial
/// tail goes even if corked), then forget the one-shot push.
fn tcp_push_held(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.nagle_push |= tp.nodelay;
        if !tp.t_state.synchronized() {
            tp.nagle_push = false;
            return;
        }
    }
    tcp_output(cx, now, so);
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.nagle_push = false;
    }
}

/// TCP's int options, and IPPROTO_IP's through `ip_ctloutput_get`.
pub(crate) fn tcp_ctloutput_get(
    cx: &impl InetCx,
    so: &Socket,
    level: i32,
    name: i32,
) -> Result<i32, Errno> {
    let tp = so.so_pcb.tcp().ok_or(Errno::ENOPROTOOPT)?;
    Ok(match (level, name) {
        (IPPROTO_IP, _) => {
            let mtu = crate::netinet::ip_pmtu::path_mtu(cx, tp.inp.faddr);
            return ip::ip_ctloutput_get(&tp.inp, mtu, name);
        }
        (IPPROTO_TCP, TCP_NODELAY) => tp.nodelay as i32,
        (IPPROTO_TCP, TCP_CORK) => tp.cork as i32,
        (IPPROTO_TCP, TCP_INQ) => tp.recvmsg_inq as i32,
        (IPPROTO_TCP, TCP_MAXSEG) => {
            if tp.t_state.synchronized() {
                tp.t_maxseg as i32
            } else if tp.user_mss != 0 {
                tp.user_mss as i32
            } else {
                TCP_DEFAULT_MSS as i32
            }
        }
        (IPPROTO_TCP, TCP_KEEPIDLE) => tp.keepidle.as_secs() as i32,
        (IPPROTO_TCP, TCP_KEEPINTVL) => tp.keepintvl.as_secs() as i32,
        (IPPROTO_TCP, TCP_KEEPCNT) => tp.keepcnt as i32,
        (IPPROTO_TCP, TCP_SYNCNT) => tp.syn_retries(cx) as i32,
        (IPPROTO_TCP, TCP_LINGER2) => match tp.linger2 {
            Some(crate::time::Secs::ZERO) => -1,
            Some(d) => d.as_secs() as i32,
            None => cx.sysctl().tcp_fin_timeout.as_secs() as i32,
        },
        (IPPROTO_TCP, TCP_NOTSENT_LOWAT) => tp.notsent_lowat as i32,
        (IPPROTO_TCP, TCP_DEFER_ACCEPT) => retrans_to_secs(tp.defer_accept),
        (IPPROTO_TCP, TCP_USER_TIMEOUT) => tp.user_timeout as i32,
        (IPPROTO_TCP, TCP_WINDOW_CLAMP) => tp.window_clamp as i32,
        (IPPROTO_TCP, TCP_QUICKACK) => !tp.pingpong as i32,
        (IPPROTO_TCP, TCP_FASTOPEN) => tp.fastopen_qlen as i32,
        (IPPROTO_TCP, TCP_FASTOPEN_CONNECT) => tp.fastopen_connect as i32,
        (IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE) => tp.fastopen_no_cookie as i32,
        _ => return Err(Errno::ENOPROTOOPT),
    })
}

/// TCP_DEFER_ACCEPT seconds as SYN-ACK rounds (Linux's secs_to_retrans
/// with a 1 s initial timeout doubling up to 120 s): the fewest rounds
/// whose total reaches `secs`, at most 255.
fn secs_to_retrans(secs: i32) -> u32 {
    if secs <= 0 {
        return 0;
    }
    let (mut res, mut timeout, mut period) = (1u32, 1i32, 1i32);
    while secs > period && res < 255 {
        res += 1;
        timeout = (timeout * 2).min(120);
        period += timeout;
    }
    res
}

/// The seconds `retrans` SYN-ACK rounds last (retrans_to_secs): what
/// getsockopt(TCP_DEFER_ACCEPT) reports.
fn retrans_to_secs(retrans: u32) -> i32 {
    if retrans == 0 {
        return 0;
    }
    let (mut timeout, mut period) = (1i32, 1i32);
    for _ in 1..retrans {
        timeout = (timeout * 2).min(120);
        period += timeout;
    }
    period
}

/// Linux's tcp_set_rcvlowat: capped at half the receive buffer if the
/// application sized it (SO_RCVBUF), else at half of tcp_rmem[2], in
/// which case the buffer grows to hold the low-water mark (twice it,
/// the space Linux's default scaling ratio needs for that window) and
/// the window clamp becomes the mark.
pub(crate) fn tcp_set_rcvlowat(cx: &impl InetCx, so: &mut Socket, v: usize) {
    let locked = so.so_options.rcvbuf_lock;
    let cap = if locked {
        so.so_rcv.sb_hiwat() / 2
    } else {
        cx.sysctl().tcp_rmem[2] / 2
    };
    let v = v.min(cap);
    so.so_rcv.sb_lowat = v.clamp(1, i32::MAX as usize) as u32;
    if !locked {
        let space = v.saturating_mul(2);
        if space > so.so_rcv.sb_hiwat() {
            so.so_rcv.set_hiwat(space);
            if let Some(tp) = so.so_pcb.tcp_mut() {
                tp.window_clamp = v as u32;
            }
        }
    }
    // Readiness depends on the mark (tcp_data_ready).
    cx.sockets().sowakeup(so.handle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defer_accept_reads_back_whole_rounds_as_linux() {
        // getsockopt after setsockopt, as this kernel reports them.
        for (set, get) in [
            (0, 0),
            (1, 1),
            (2, 3),
            (3, 3),
            (4, 7),
            (5, 7),
            (8, 15),
            (100, 127),
            (-1, 0),
        ] {
            assert_eq!(retrans_to_secs(secs_to_retrans(set)), get, "set {set}");
        }
        assert_eq!(secs_to_retrans(3), 2, "3 s: two rounds (1 s + 2 s)");
    }
}
