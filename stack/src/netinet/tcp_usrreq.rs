//! TCP's protocol switch entry (FreeBSD's tcp_usrreq.c): the socket calls
//! as TCP answers them, with Linux's errno for every state, TCP socket
//! options, and poll readiness as Linux's tcp_poll computes it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::api::{Readiness, RecvMeta, SockInfo, SockType};
use crate::errno::Errno;
use crate::kern::protosw::Protosw;
use crate::kern::socket::{SoState, SoUrg, SockState, Socket};
use crate::kern::sockopt::{sooptcopyin_int, sooptcopyout};
use crate::kern::uipc::{solisten_abort, solisten_proto, soreserve, soreserved};
use crate::linux::*;
use crate::netinet::in_pcb::{
    Inpcb, Proto, INP_ANONPORT, INP_BOUNDADDR, INP_DROPPED, INP_TIMEWAIT, INP_WASCONNECTED,
};
use crate::netinet::in_pcbbind::{in_pcbautobind, in_pcbbind};
use crate::netinet::inet::InetCx;
use crate::netinet::ip;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_ctloutput::{tcp_ctloutput_get, tcp_ctloutput_set, tcp_set_rcvlowat};
use crate::netinet::tcp_cubic::{CcAlgo, CongCtl};
use crate::netinet::tcp_fastopen::{
    tcp_fastopen_syn_plan, TFO_CLIENT_ENABLE, TFO_SERVER_ENABLE, TFO_SERVER_WO_SOCKOPT1,
};
use crate::netinet::tcp_info::tcp_info;
use crate::netinet::tcp_notsent::{tcp_notsent, tcp_notsent_take};
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_subr::tcp_timer_sync;
use crate::netinet::tcp_subr::{rcv_wscale_for, tcp_close, tcp_drop, tcp_new_isn, tcp_send_rst};
use crate::netinet::tcp_urg;
use crate::netinet::tcp_var::SynCache;
use crate::netinet::tcp_var::{TcpCb, TcpState, TCP_DEFAULT_MSS};
use crate::time::Instant;

pub(crate) struct TcpUsrreqs;
pub(crate) static TCP_USRREQS: TcpUsrreqs = TcpUsrreqs;

fn state(so: &Socket) -> TcpState {
    so.so_pcb.tcp().map_or(TcpState::Closed, |tp| tp.t_state)
}

/// Begin sending a FIN after the buffered data (tcp_usrclosed for SHUT_WR
/// and close): ESTABLISHED → FIN_WAIT_1, CLOSE_WAIT → LAST_ACK.
fn tcp_usrclosed(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    so.socantsendmore();
    let Some(tp) = so.so_pcb.tcp_mut() else {
        return;
    };
    let next = match tp.t_state {
        TcpState::SynReceived | TcpState::Established => TcpState::FinWait1,
        TcpState::CloseWait => TcpState::LastAck,
        _ => return,
    };
    tp.t_state = next;
    tp.fin_queued = true;
    tcp_output(cx, now, so);
}

/// Linux's tcp_disconnect: make the socket reusable for a new connect()
/// after a failed or dissolved one. The connection (if any) is dropped,
/// an automatically chosen port and address are released (getsockname
/// still reports the port, as Linux's inet_sport), sequence state starts
/// afresh; options set by the application are kept.
fn tcp_disconnect(cx: &impl InetCx, so: &mut Socket) {
    // Linux reports ECONNRESET for a connection it had to reset (or a SYN
    // it abandoned); a connection already over reports nothing.
    let reset = matches!(
        state(so),
        TcpState::SynSent
            | TcpState::SynReceived
            | TcpState::Established
            | TcpState::CloseWait
            | TcpState::FinWait1
            | TcpState::FinWait2
    );
    if state(so) != TcpState::Closed {
        tcp_send_rst(cx, so);
        tcp_close(cx, so);
    }
    let handle = so.handle;
    let Some(old) = so.so_pcb.tcp_mut() else {
        return;
    };
    let mut inp = old.inp;
    inp.inp_flags &= !(INP_DROPPED | INP_TIMEWAIT);
    inp.faddr = inp.any();
    inp.fport = 0;
    if inp.inp_flags & INP_BOUNDADDR == 0 {
        inp.laddr = inp.any();
    }
    if inp.inp_flags & INP_ANONPORT != 0 && inp.lport != 0 {
        cx.inet()
            .pcbinfo
            .write()
            .unbind(Proto::Tcp, inp.lport, handle);
        inp.lport_released = inp.lport;
        inp.lport = 0;
        inp.inp_flags &= !INP_ANONPORT;
    } else if inp.lport != 0 {
        let laddr = inp.laddr;
        cx.inet()
            .pcbinfo
            .write()
            .update(Proto::Tcp, inp.lport, handle, |u| {
                u.foreign = None;
                u.addr = laddr;
            });
    }
    let mut tp = TcpCb::new(inp);
    tp.nodelay = old.nodelay;
    tp.cork = old.cork;
    tp.keepidle = old.keepidle;
    tp.keepintvl = old.keepintvl;
    tp.keepcnt = old.keepcnt;
    tp.syn_retries = old.syn_retries;
    tp.linger2 = old.linger2;
    tp.defer_accept = old.defer_accept;
    tp.user_timeout = old.user_timeout;
    tp.window_clamp = old.window_clamp;
    tp.user_mss = old.user_mss;
    tp.recvmsg_inq = old.recvmsg_inq;
    tp.mss_offer = old.mss_offer;
    tp.fastopen_connect = old.fastopen_connect;
    tp.fastopen_no_cookie = old.fastopen_no_cookie;
    tp.fastopen_qlen = old.fastopen_qlen;
    tp.cc = CongCtl::new(old.cc.algo());
    *old = tp;
    so.sb_state = Default::default();
    so.so_rcv.clear();
    so.so_snd.clear();
    so.sock_state = SockState::Unconnected;
    if reset {
        so.so_error = Some(Errno::ECONNRESET);
    }
}

/// Stop listening: abort every queued connection, forget half-open ones.
fn tcp_unlisten(cx: &impl InetCx, now: Instant, so: &mut Socket) {
    solisten_abort(cx, now, so);
    let handle = so.handle;
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.t_state = TcpState::Closed;
        tp.t_timers = Default::default();
        if let Some(r) = tp.rare.as_mut() {
            r.syncache = None;
        }
        tp.rare_release();
        let port = tp.inp.lport;
        cx.inet()
            .pcbinfo
            .write()
            .update(Proto::Tcp, port, handle, |u| u.listening = false);
    }
}

/// Linux's tcp_stream_memory_free: unsent bytes (doubled for poll,
/// `wake` 1) below TCP_NOTSENT_LOWAT (0: net.ipv4.tcp_notsent_lowat,
/// unlimited by default).
fn tcp_notsent_below_lowat(so: &Socket, wake: u32) -> bool {
    let lowat = so.so_pcb.tcp().map_or(u32::MAX, |tp| tp.notsent_lowat());
    (tcp_notsent(so) << wake) < lowat as usize
}

/// Linux's sk_stream_is_writeable: free send space at least half of what
/// is queued (a third of the queue free) and unsent bytes below
/// TCP_NOTSENT_LOWAT as poll counts them. POLLOUT, and the wakeup of a
/// writer that slept for space, wait for it.
fn sk_stream_is_writeable(so: &Socket) -> bool {
    let used = so.so_snd.ring().len();
    let free = so.so_snd.ring().free();
    free > 0 && free * 2 >= used && tcp_notsent_below_lowat(so, 1)
}

/// What `pru_send` of a plain send would take now without failing: the
/// checks it makes before its copy, then the free space.
fn tcp_send_space(so: &Socket) -> usize {
    let open = matches!(state(so), TcpState::Established | TcpState::CloseWait);
    if !open || so.sb_state.cantsendmore || so.so_error.is_some() || !tcp_notsent_below_lowat(so, 0)
    {
        return 0;
    }
    so.so_snd.ring().free()
}

impl<C: InetCx> Protosw<C> for TcpUsrreqs {
    fn pr_type(&self) -> SockType {
        SockType::Stream
    }

    fn pr_protocol(&self) -> i32 {
        IPPROTO_TCP
    }

    /// A fresh TcpCb with the sysctl defaults (tcp_attach), and the
    /// tcp_rmem/tcp_wmem default buffers for a socket made by socket(2).
    /// A connection made by `sonewconn` has its listener's buffers, and the
    /// SYN cache fills its TcpCb in (`syncache_socket`).
    fn pru_attach(&self, cx: &C, so: &mut Socket) -> Result<(), Errno> {
        let sys = cx.sysctl();
        let mtu = cx.config().mtu;
        if !soreserved(so) {
            soreserve(so, sys.tcp_wmem[1], sys.tcp_rmem[1]);
        }
        let mut tp = TcpCb::new(Inpcb::new_in(
            so.so_domain,
            sys.ip_default_ttl,
            sys.bindv6only,
        ));
        tp.keepidle = sys.tcp_keepalive_time.into();
        tp.keepintvl = sys.tcp_keepalive_intvl.into();
        tp.keepcnt = sys.tcp_keepalive_probes.min(u8::MAX.into()) as u8;
        tp.mss_offer = mtu.saturating_sub(40).clamp(536, 65495) as u16;
        tp.cc = CongCtl::new(CcAlgo::from_name(&sys.tcp_congestion_control).unwrap_or_default());
        tp.set_notsent_lowat_sys(sys.tcp_notsent_lowat);
        so.so_pcb.set(tp);
        Ok(())
    }

    fn pru_detach(&self, cx: &C, so: &mut Socket) {
        let igmp = crate::netinet::igmp_state::IgmpParams::of(cx);
        cx.inet().pcbinfo.write().mc.leave_all(so.handle, &igmp);
        let handle = so.handle;
        let inp = *so.so_pcb.inp();
        let mut t = cx.inet().pcbinfo.write();
        let tuple = (inp.local(), inp.foreign());
        if t.tcp_conns.get(&tuple) == Some(&handle) {
            t.tcp_conns.remove(&tuple);
        }
        if inp.lport != 0 {
            t.unbind(Proto::Tcp, inp.lport, handle);
        }
    }

    fn pru_bind(&self, cx: &C, so: &mut Socket, addr: SocketAddr) -> Result<(), Errno> {
        if state(so) != TcpState::Closed {
            return Err(Errno::EINVAL);
        }
        in_pcbbind(cx, so, Proto::Tcp, addr, Errno::EADDRINUSE)
    }

    fn pru_listen(&self, cx: &C, so: &mut Socket, backlog: i32) -> Result<(), Errno> {
        let somax = cx.sysctl().somaxconn;
        let qlimit = if backlog < 0 || backlog as u32 > somax {
            somax
        } else {
            backlog as u32
        };
        match state(so) {
            TcpState::Listen => {
                solisten_proto(so, qlimit);
                return Ok(());
            }
            // inet_listen wants SS_UNCONNECTED, and Linux 6.18 refuses a
            // socket that has been through a connection even once it is
            // SS_UNCONNECTED again (INP_WASCONNECTED). Every other
            // sock_state implies that mark (pru_check asserts it).
            TcpState::Closed if so.so_pcb.inp().inp_flags & INP_WASCONNECTED == 0 => {}
            _ => return Err(Errno::EINVAL),
        }
        in_pcbautobind(cx, so, Proto::Tcp, Errno::EADDRINUSE)?;
        let handle = so.handle;
        let inp = *so.so_pcb.inp();
        {
            let mut t = cx.inet().pcbinfo.write();
            let me = crate::netinet::in_pcb::PortUser {
                handle,
                addr: inp.laddr,
                v6only: inp.v6only,
                reuseaddr: so.so_options.reuseaddr,
                reuseport: so.so_options.reuseport,
                listening: true,
                foreign: None,
                dev: inp.bound_dev(),
            };
            t.listen(inp.lport, me)?;
        }
        solisten_proto(so, qlimit);
        let bits = cx.sysctl().tcp_fastopen;
        let wo_sockopt = TFO_SERVER_WO_SOCKOPT1 | TFO_SERVER_ENABLE;
        if let Some(tp) = so.so_pcb.tcp_mut() {
            tp.t_state = TcpState::Listen;
            tp.rare_mut().syncache = Some(Box::new(SynCache::new(qlimit)));
            if bits & wo_sockopt == wo_sockopt && tp.fastopen_qlen == 0 {
                // Fast Open on every listener, its queue the backlog.
                tp.fastopen_qlen = qlimit;
            }
        }
        Ok(())
    }

    fn pru_connect(
        &self,
        cx: &C,
        now: Instant,
        so: &mut Socket,
        addr: Option<SocketAddr>,
    ) -> Result<(), Errno> {
        let Some(addr) = addr else {
            // AF_UNSPEC: Linux's tcp_disconnect.
            if state(so) == TcpState::Listen {
                tcp_unlisten(cx, now, so);
            }
            tcp_disconnect(cx, so);
            return Ok(());
        };
        if so.so_pcb.tcp().is_some_and(|tp| tp.defer_connect) {
            // TCP_FASTOPEN_CONNECT left the SYN to the first write: to
            // the application the socket is connected (Linux).
            return Err(Errno::EISCONN);
        }
        match so.sock_state {
            SockState::Connected => return Err(Errno::EISCONN),
            // A second connect while one is pending: its outcome, as Linux.
            SockState::Connecting => {
                return match self.pru_connect_status(cx, so)? {
                    false => Err(Errno::EALREADY),
                    true => Ok(()),
                };
            }
            // shutdown() of a connect that had failed unseen: Linux's
            // __inet_stream_connect has no case for SS_DISCONNECTING.
            SockState::Disconnecting => return Err(Errno::EINVAL),
            SockState::Unconnected => {}
        }
        tcp_connect_start(cx, now, so, addr)?;
        let bits = cx.sysctl().tcp_fastopen;
        let tp = so.so_pcb.tcp_mut().expect("tcp");
        if tp.fastopen_connect && bits & TFO_CLIENT_ENABLE != 0 {
            // Linux's tcp_fastopen_defer_connect: with a cookie (or none
            // needed) the SYN waits for the first write and its data;
            // else this SYN asks for a cookie.
            let (fo, _, data_ok) = tcp_fastopen_syn_plan(cx, tp, addr.ip(), 0);
            if data_ok {
                tp.defer_connect = true;
                return Ok(());
            }
            tp.tfo_mut().req = Some((fo, 0));
        }
        tcp_output(cx, now, so);
        tcp_timer_sync(cx, so);
        Err(Errno::EINPROGRESS)
    }

    fn pru_connect_status(&self, cx: &C, so: &mut Socket) -> Result<bool, Errno> {
        match state(so) {
            TcpState::SynSent | TcpState::SynReceived => Ok(false),
            // No connect to finish: as connect() on a listener answers.
            // (It stays SS_UNCONNECTED and may listen() again.)
            TcpState::Listen => Err(Errno::EISCONN),
            TcpState::Closed => {
                let e = so.take_error().unwrap_or(Errno::ECONNABORTED);
                tcp_disconnect(cx, so);
                Err(e)
            }
            _ => {
                so.sock_state = SockState::Connected;
                Ok(true)
            }
        }
    }

    fn pru_send(
        &self,
        cx: &C,
        now: Instant,
        so: &mut Socket,
        data: &[u8],
        flags: i32,
        to: Option<SocketAddr>,
    ) -> Result<usize, Errno> {
        let nonblock = flags & MSG_DONTWAIT != 0;
        let fastopen = flags & MSG_FASTOPEN != 0;
        let fresh = state(so) == TcpState::Closed && so.sock_state == SockState::Unconnected;
        if fastopen && fresh {
            // Linux's tcp_sendmsg_fastopen: connect and send in the SYN.
            let bits = cx.sysctl().tcp_fastopen;
            let Some(addr) = to.filter(|_| bits & TFO_CLIENT_ENABLE != 0) else {
                return Err(Errno::EOPNOTSUPP);
            };
            tcp_connect_start(cx, now, so, addr)?;
            return tcp_sendmsg_fastopen(cx, now, so, data, flags);
        }
        if so.so_pcb.tcp().is_some_and(|tp| tp.defer_connect) {
            if let Some(tp) = so.so_pcb.tcp_mut() {
                tp.defer_connect = false;
            }
            return tcp_sendmsg_fastopen(cx, now, so, data, flags);
        }
        // A call that copied bytes already leaves the error pending for
        // the next one (Linux: `if (copied) goto out` before sk_stream_error).
        let error = |so: &mut Socket| match flags & MSG_SOCKSHIM_COPIED {
            0 => so.take_error(),
            _ => so.so_error,
        };
        if so.sb_state.cantsendmore {
            return Err(error(so).unwrap_or(Errno::EPIPE));
        }
        if let Some(e) = error(so) {
            return Err(e);
        }
        match state(so) {
            TcpState::Established | TcpState::CloseWait => {}
            TcpState::SynReceived if so.so_pcb.tcp().is_some_and(|tp| tp.fastopen_child) => {}
            TcpState::SynSent | TcpState::SynReceived => {
                if fastopen && nonblock {
                    return Err(Errno::EALREADY);
                }
                if let (false, Some(tp)) = (nonblock, so.so_pcb.tcp_mut()) {
                    tp.write_pending = data.len() > tp.tfo().and_then(|t| t.copied).unwrap_or(0);
                }
                return Err(Errno::EAGAIN);
            }
            _ => return Err(Errno::EPIPE),
        }
        // Is sending application-limited? (Linux's
        // tcp_rate_check_app_limited, at each sendmsg.)
        let snd_cc = so.so_snd.ring().len();
        if let Some(tp) = so.so_pcb.tcp_mut() {
            let off = tp.snd_nxt.diff(tp.snd_buf_seq).max(0) as usize;
            crate::netinet::tcp_rate::tcp_rate_check_app_limited(tp, snd_cc.saturating_sub(off));
        }
        // A blocking Fast Open's SYN took the first bytes already.
        let copied = so
            .so_pcb
            .tcp_mut()
            .and_then(|tp| tp.tfo_opt_mut()?.copied.take())
            .map_or(0, |c| c.min(data.len()));
        let data = &data[copied..];
        if data.is_empty() {
            return Ok(copied);
        }
        // A writer that slept for space goes on only once the socket is
        // writeable (Linux's sk_stream_write_space wakes it no sooner).
        let waited = flags & MSG_SOCKSHIM_WAITED != 0;
        if !tcp_notsent_below_lowat(so, 0) || (waited && !sk_stream_is_writeable(so)) {
            return if copied > 0 {
                Ok(copied)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        // Under TCP_NOTSENT_LOWAT, a write stops at an skb boundary.
        let part = match so.so_pcb.tcp().filter(|tp| tp.notsent_lowat() != u32::MAX) {
            Some(tp) => {
                let notsent = tcp_notsent(so);
                let lowat = tp.notsent_lowat() as usize;
                &data[..tcp_notsent_take(tp, lowat, notsent, data.len())]
            }
            None => data,
        };
        let n = so.so_snd.ring_mut().push(part);
        if n == 0 {
            return if copied > 0 {
                Ok(copied)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = n + copied;
        if flags & MSG_ZEROCOPY != 0 && so.so_options.zerocopy {
            let id = so.so_zckey;
            so.so_zckey = id.wrapping_add(1);
            let end = so.so_snd.ring().len();
            if let Some(tp) = so.so_pcb.tcp_mut() {
                let seq = tp.snd_buf_seq + end;
                tp.rare_mut().zc_pending.push_back((seq, id));
            }
        }
        crate::netinet::tcp_tstamp::tcp_tx_timestamp(so);
        let more = flags & MSG_MORE != 0;
        let end = so.so_snd.ring().len();
        if let Some(tp) = so.so_pcb.tcp_mut() {
            // A record ends only when the whole send was taken (Linux
            // marks the skb EOR once the message is all copied).
            let eor = flags & MSG_EOR != 0 && n == data.len() + copied;
            let pushed = n - copied;
            let start = tp.snd_buf_seq + (end - pushed);
            crate::netinet::tcp_push::tcp_push_marks(tp, start, pushed, more, eor);
            if eor {
                tp.push_mark(tp.snd_buf_seq + end);
            }
            tp.write_pending = false;
            tp.msg_more = more;
            tp.more_pending = more;
            if flags & MSG_OOB != 0 {
                // The last byte of this send is the urgent one.
                let up = tp.snd_buf_seq + end;
                tcp_urg::tcp_mark_urg(tp, up);
            }
        }
        tcp_output(cx, now, so);
        if let Some(tp) = so.so_pcb.tcp_mut() {
            tp.msg_more = false;
        }
        tcp_timer_sync(cx, so);
        Ok(n)
    }

    fn pru_rcvoob(&self, so: &mut Socket, buf: &mut [u8], flags: i32) -> Result<RecvMeta, Errno> {
        tcp_urg::tcp_recv_urg(so, buf, flags)
    }

    fn pru_rcvd(&self, cx: &C, now: Instant, so: &mut Socket) {
        crate::netinet::tcp_rcvbuf::tcp_rcv_space_adjust(cx, now, so);
        if crate::netinet::tcp_rcvbuf::tcp_rbuf_arm(so) {
            tcp_timer_sync(cx, so);
        }
        let free = so.so_rcv.ring().free();
        let hiwat = so.so_rcv.sb_hiwat();
        let Some(tp) = so.so_pcb.tcp_mut() else {
            return;
        };
        if !tp.t_state.synchronized() {
            return;
        }
        // Linux's tcp_cleanup_rbuf: a window update only when the window
        // we can offer now is at least twice the one the peer still has
        // (and not a silly one: at least an MSS, unless half the buffer is
        // free, as __tcp_select_window).
        let adv = tp.rcv_adv.diff(tp.rcv_nxt).max(0) as usize;
        let clamp = (65535usize << tp.rcv_wscale).min(1 << 30);
        let new_win = free.min(clamp);
        let not_silly = new_win >= tp.t_maxseg || free >= hiwat / 2;
        if 2 * adv <= clamp && new_win >= 2 * adv && new_win > 0 && not_silly {
            tp.ack_now = true;
            tcp_output(cx, now, so);
            tcp_timer_sync(cx, so);
        }
    }

    fn pru_shutdown(&self, cx: &C, now: Instant, so: &mut Socket, how: i32) -> Result<(), Errno> {
        if so.sock_state == SockState::Connecting {
            so.sock_state = match state(so) {
                TcpState::SynSent | TcpState::SynReceived | TcpState::Closed => {
                    SockState::Disconnecting
                }
                _ => SockState::Connected,
            };
        }
        let rd = how != SHUT_WR;
        let wr = how != SHUT_RD;
        match state(so) {
            TcpState::Closed | TcpState::TimeWait => {
                if rd {
                    so.socantrcvmore();
                }
                if wr {
                    so.socantsendmore();
                }
                Err(Errno::ENOTCONN)
            }
            TcpState::Listen => {
                if rd {
                    tcp_unlisten(cx, now, so);
                    so.sock_state = SockState::Unconnected;
                }
                Ok(())
            }
            // inet_shutdown disconnects a SYN_SENT socket (tcp_disconnect,
            // no RST: closed first) and leaves ECONNRESET for SO_ERROR and
            // poll; the automatic port and address are released.
            TcpState::SynSent => {
                tcp_close(cx, so);
                tcp_disconnect(cx, so);
                so.sb_state = Default::default();
                so.sock_state = SockState::Unconnected;
                so.so_error = Some(Errno::ECONNRESET);
                Ok(())
            }
            _ => {
                if rd {
                    so.socantrcvmore();
                }
                if wr {
                    tcp_usrclosed(cx, now, so);
                }
                tcp_timer_sync(cx, so);
                Ok(())
            }
        }
    }

    fn pru_close(&self, cx: &C, now: Instant, so: &mut Socket) {
        let unread = !so.so_rcv.ring().is_empty();
        let linger0 = so.so_options.linger == Some(0);
        match state(so) {
            TcpState::Closed => {}
            TcpState::Listen => tcp_unlisten(cx, now, so),
            TcpState::SynSent => tcp_close(cx, so),
            _ if unread || linger0 => tcp_drop(cx, so, None),
            _ => {
                tcp_usrclosed(cx, now, so);
                if let Some(tp) = so.so_pcb.tcp_mut() {
                    if tp.t_state == TcpState::FinWait2 {
                        if tp.linger2 == Some(crate::time::Secs::ZERO) {
                            // TCP_LINGER2 < 0: no FIN_WAIT_2 after close,
                            // Linux resets (tcp_close, TCPAbortOnLinger).
                            tcp_drop(cx, so, None);
                        } else {
                            let t = tp
                                .linger2
                                .map_or(cx.sysctl().tcp_fin_timeout, Duration::from);
                            tp.t_timers.twomsl = Some(now + t);
                        }
                    }
                }
            }
        }
        if state(so) != TcpState::Closed {
            // TCP keeps the socket until the connection is finished.
            so.so_state.set(SoState::PROTOREF);
            tcp_timer_sync(cx, so);
        }
    }

    fn pru_abort(&self, cx: &C, _now: Instant, so: &mut Socket) {
        tcp_drop(cx, so, Some(Errno::ECONNABORTED));
    }

    fn pru_accept(&self, so: &Socket) -> SocketAddr {
        let inp = so.so_pcb.inp();
        inp.user_addr(inp.faddr, inp.fport)
    }

    fn pru_accepted(&self, cx: &C, l: &mut Socket) {
        crate::netinet::tcp_syncache::syncache_accepted(cx, l);
        crate::netinet::tcp_subr::tcp_timer_sync(cx, l);
    }

    fn pru_sockaddr(&self, so: &Socket) -> SocketAddr {
        let inp = so.so_pcb.inp();
        match inp.lport {
            0 => inp.user_addr(inp.laddr, inp.lport_released),
            _ => inp.user_addr(inp.laddr, inp.lport),
        }
    }

    fn pru_rcv_notconn(&self, so: &Socket) -> bool {
        state(so) == TcpState::Closed
    }

    fn pru_rcvlowat(&self, cx: &C, so: &mut Socket, lowat: usize) {
        tcp_set_rcvlowat(cx, so, lowat);
    }

    fn pru_peeraddr(&self, so: &Socket) -> Result<SocketAddr, Errno> {
        let inp = so.so_pcb.inp();
        match state(so) {
            // TIME_WAIT: Linux has moved the connection to a time-wait
            // minisocket; the application's socket is CLOSED.
            TcpState::Closed | TcpState::SynSent | TcpState::Listen | TcpState::TimeWait => {
                Err(Errno::ENOTCONN)
            }
            _ if inp.fport == 0 => Err(Errno::ENOTCONN),
            _ => Ok(inp.user_addr(inp.faddr, inp.fport)),
        }
    }

    fn pru_sopoll(&self, so: &Socket) -> Readiness {
        let st = state(so);
        if st == TcpState::Listen {
            let ready = so.so_listen().is_some_and(|q| !q.sol_comp.is_empty());
            return if ready {
                Readiness::IN | Readiness::RDNORM
            } else {
                Readiness::EMPTY
            };
        }
        let mut r = Readiness::EMPTY;
        let sb = so.sb_state;
        let shut_both = sb.cantrcvmore && sb.cantsendmore;
        if shut_both || st == TcpState::Closed {
            r |= Readiness::HUP;
        }
        if sb.cantrcvmore || sb.fin_received {
            r |= Readiness::IN | Readiness::RDNORM | Readiness::RDHUP;
        }
        let tfo = so
            .so_pcb
            .tcp()
            .map_or((false, false), |tp| (tp.fastopen_child, tp.defer_connect));
        if tfo.1 {
            // A deferred Fast Open connect: writable, so the application
            // writes and the SYN goes with its data (Linux's tcp_poll).
            r |= Readiness::OUT | Readiness::WRNORM;
        }
        if !matches!(st, TcpState::SynSent | TcpState::SynReceived) || tfo.0 {
            let cc = so.so_rcv.ring().len();
            // An urgent byte at the read point that the reader will skip
            // does not make the socket readable (tcp_poll's target++).
            let at_mark = so.so_urg != SoUrg::None && so.so_oobmark == 0;
            let target = so.so_rcv.sb_lowat.max(1) as usize
                + usize::from(at_mark && !so.so_options.oobinline);
            if cc >= target || (cc > 0 && sb.fin_received) {
                r |= Readiness::IN | Readiness::RDNORM;
            }
            if matches!(so.so_urg, SoUrg::Valid(_)) {
                r |= Readiness::PRI;
            }
            if !sb.cantsendmore {
                if sk_stream_is_writeable(so) {
                    r |= Readiness::OUT | Readiness::WRNORM;
                }
            } else {
                r |= Readiness::OUT | Readiness::WRNORM;
            }
        }
        if so.so_error.is_some() || so.so_errqueue.is_some() {
            r |= Readiness::ERR;
        }
        r
    }

    fn pru_sockinfo(&self, so: &Socket) -> SockInfo {
        let st = state(so);
        SockInfo {
            rcv_cc: so.so_rcv.ring().len(),
            inq: crate::netinet::tcp_urg::tcp_inq(so),
            snd_cc: so.so_snd.ring().len(),
            snd_unsent: tcp_notsent(so),
            tcp_state: st.linux_number(),
            listening: st == TcpState::Listen,
            inq_hint: so
                .so_pcb
                .tcp()
                .filter(|tp| tp.recvmsg_inq)
                .map(|_| so.so_rcv.ring().len() + so.sb_state.fin_received as usize),
            snd_space: tcp_send_space(so),
        }
    }

    /// Levels as Linux's tcp_setsockopt routes them: IPPROTO_TCP here,
    /// IPPROTO_IP to ip_setsockopt (its one-byte optlen rule), any other
    /// level ENOPROTOOPT; SOL_SOCKET only for the options TCP follows.
    fn pru_ctloutput_set(
        &self,
        cx: &C,
        now: Instant,
        so: &mut Socket,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        if (level, name) == (IPPROTO_TCP, TCP_CONGESTION) {
            return tcp_set_congestion(so, val, now);
        }
        if level == SOL_SOCKET && (name == SO_REUSEADDR || name == SO_REUSEPORT) {
            crate::netinet::in_pcbbind::in_pcb_reuse_changed(cx, so);
            return Ok(());
        }
        if level == IPPROTO_IP {
            let handle = so.handle;
            if let Some(r) = crate::netinet::ip_mcast_source::ip_mcast_setsockopt(
                cx,
                handle,
                so.so_pcb.inp_mut(),
                true,
                name,
                val,
            ) {
                return r;
            }
        }
        let v = match level {
            // As Linux's do_ipv6_setsockopt: the group_req and
            // group_source_req memberships are open to TCP too
            // (IPV6_JOIN_GROUP is EPROTO below).
            IPPROTO_IPV6
                if matches!(
                    name,
                    MCAST_JOIN_GROUP
                        | MCAST_LEAVE_GROUP
                        | MCAST_JOIN_SOURCE_GROUP
                        | MCAST_LEAVE_SOURCE_GROUP
                        | MCAST_BLOCK_SOURCE
                        | MCAST_UNBLOCK_SOURCE
                        | MCAST_MSFILTER
                ) && so.so_pcb.inp().family == crate::api::Domain::Inet6 =>
            {
                return crate::netinet::ip6_mcast::ip6_mcast_setsockopt(cx, so.handle, name, val)
                    .unwrap_or(Err(Errno::ENOPROTOOPT));
            }
            IPPROTO_IPV6 => {
                let env = crate::netinet::ip6_ctloutput::Ip6Env::of(cx, so.so_pcb.inp());
                let inp = so.so_pcb.inp_mut();
                return crate::netinet::ip6_ctloutput::ip6_ctloutput_set(
                    &env, inp, true, name, val,
                );
            }
            IPPROTO_IP => ip::ip_setsockopt_val(name, val)?,
            IPPROTO_TCP | SOL_SOCKET => sooptcopyin_int(val)?,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        tcp_ctloutput_set(cx, now, so, level, name, v)
    }

    /// As `pru_ctloutput_set`; another level is EOPNOTSUPP (ip_getsockopt),
    /// and TCP_INFO is a struct.
    fn pru_ctloutput_get(
        &self,
        cx: &C,
        so: &Socket,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        match level {
            IPPROTO_IP => {
                if crate::netinet::ip_msfilter::is_msfilter_opt(name) {
                    return crate::netinet::ip_msfilter::msfilter_get(cx, so.handle, name, out);
                }
                if let Some(r) =
                    crate::netinet::ip_mcast::ip_mcast_getsockopt(so.so_pcb.inp(), name)
                {
                    return r.map(|b| sooptcopyout(out, &b));
                }
                Ok(ip::ip_getsockopt_put(
                    out,
                    tcp_ctloutput_get(cx, so, level, name)?,
                ))
            }
            IPPROTO_IPV6
                if name == MCAST_MSFILTER
                    && so.so_pcb.inp().family == crate::api::Domain::Inet6 =>
            {
                crate::netinet::ip6_mcast::msfilter6_get(cx, so.handle, out)
            }
            IPPROTO_IPV6 => crate::netinet::ip6_ctloutput::ip6_ctloutput_get(
                &crate::netinet::ip6_ctloutput::Ip6Env::of(cx, so.so_pcb.inp()),
                so.so_pcb.inp(),
                name,
                out,
            ),
            SOL_SOCKET if name == SO_TIMESTAMPING => {
                let flags = so.so_pcb.tcp().map_or(0, |tp| tp.tsflags());
                Ok(sooptcopyout(out, &flags.to_ne_bytes()))
            }
            IPPROTO_TCP if name == TCP_INFO => Ok(sooptcopyout(out, &tcp_info(cx, so).to_bytes())),
            // Linux fills it from the congestion module's get_info: BBR's
            // struct tcp_bbr_info; Reno and CUBIC have none (length 0).
            IPPROTO_TCP if name == TCP_CC_INFO => {
                let tp = so.so_pcb.tcp();
                match tp.and_then(|tp| Some((tp.cc.bbr()?, tp.t_maxseg))) {
                    Some((b, mss)) => Ok(sooptcopyout(out, &b.cc_info(mss))),
                    None => Ok(0),
                }
            }
            IPPROTO_TCP if name == TCP_CONGESTION => {
                // The name, NUL-padded to TCP_CA_NAME_MAX and cut to the
                // caller's length (Linux).
                let mut b = [0u8; 16];
                let algo = so.so_pcb.tcp().map(|tp| tp.cc.algo()).unwrap_or_default();
                b[..algo.name().len()].copy_from_slice(algo.name().as_bytes());
                let n = out.len().min(16);
                out[..n].copy_from_slice(&b[..n]);
                Ok(n)
            }
            IPPROTO_TCP => Ok(sooptcopyout(
                out,
                &tcp_ctloutput_get(cx, so, level, name)?.to_ne_bytes(),
            )),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn pru_take_softerror(&self, so: &mut Socket) -> Option<Errno> {
        let tp = so.so_pcb.tcp_mut()?;
        let e = tp.rare.as_mut()?.softerror.take();
        tp.rare_release();
        e
    }

    fn pru_check(&self, cx: &C, so: &Socket) {
        let tp = so.so_pcb.tcp().expect("TCP socket with a TCP PCB");
        let h = so.handle;
        assert!(
            tp.snd_una.le(tp.snd_nxt) && tp.snd_nxt.le(tp.snd_max),
            "{h:?}: snd_una <= snd_nxt <= snd_max"
        );
        assert!(
            tp.snd_una.le(tp.snd_buf_seq + 1),
            "{h:?}: send buffer starts at or after snd_una"
        );
        if so.so_state.has(SoState::PROTOREF) {
            assert!(
                so.so_state.has(SoState::NOFDREF),
                "{h:?}: PROTOREF only after the last close"
            );
            assert_ne!(
                tp.t_state,
                TcpState::Closed,
                "{h:?}: a closed connection holds no PROTOREF"
            );
        }
        // A socket leaves SS_UNCONNECTED only by connect()'s SYN_SENT or
        // as a listener's child, both of which mark the PCB: pru_listen
        // reads the mark alone.
        if so.sock_state != SockState::Unconnected {
            assert_ne!(
                tp.inp.inp_flags & INP_WASCONNECTED,
                0,
                "{h:?}: {:?} without INP_WASCONNECTED",
                so.sock_state
            );
        }
        // Only tcp_close marks a PCB dropped, and only a connection's
        // (from connect's SYN_SENT, or a listener's child); the way back to
        // SS_UNCONNECTED is tcp_disconnect, which clears the mark: a
        // connect() (or MSG_FASTOPEN sendto) never starts from a dropped
        // PCB.
        if so.sock_state == SockState::Unconnected {
            assert_eq!(
                tp.inp.inp_flags & INP_DROPPED,
                0,
                "{h:?}: an unconnected socket's PCB is not dropped"
            );
        }
        let t = cx.inet().pcbinfo.read();
        let tuple = (tp.inp.local(), tp.inp.foreign());
        let in_table = t.tcp_conns.get(&tuple) == Some(&h);
        match tp.t_state {
            TcpState::Closed | TcpState::Listen => {
                assert!(
                    !in_table,
                    "{h:?}: {:?} connection still in the 4-tuple table",
                    tp.t_state
                )
            }
            _ => assert!(
                in_table,
                "{h:?}: {:?} connection missing from the 4-tuple table",
                tp.t_state
            ),
        }
        if tp.inp.lport != 0 {
            assert!(
                t.has_user(Proto::Tcp, tp.inp.lport, h),
                "{h:?}: bound socket missing from the port table"
            );
        }
        if tp.t_state == TcpState::Listen {
            assert!(so.so_listen().is_some(), "{h:?}: LISTEN without queues");
        }
    }
}

/// The active open's first half, shared by connect() and a Fast Open
/// sendto(): route, bind a port, enter the 4-tuple table, pick the ISN,
/// SYN-SENT; the caller sends the SYN.
fn tcp_connect_start(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    addr: SocketAddr,
) -> Result<(), Errno> {
    {
        if state(so) != TcpState::Closed {
            return Err(Errno::EISCONN);
        }
        let addr = crate::netinet::in_pcbbind::in_pcbdest(so.so_pcb.inp(), addr)?;
        let addr = ip::dst_this_host(so.so_pcb.inp().laddr, addr);
        let dst = addr.ip();
        if ip::is_broadcast(cx, dst) || dst.is_multicast() {
            return Err(Errno::ENETUNREACH);
        }
        ip::route_check(cx, dst, so.so_pcb.inp().bound_dev())?;
        in_pcbautobind(cx, so, Proto::Tcp, Errno::EADDRNOTAVAIL)?;
        let handle = so.handle;
        let sys = cx.sysctl();
        let rcv_wscale = if sys.tcp_window_scaling {
            rcv_wscale_for(&sys)
        } else {
            0
        };
        let inp = so.so_pcb.inp_mut();
        let laddr = ip::source_for(cx, inp.laddr, dst, inp.bound_dev());
        let local = SocketAddr::new(laddr, inp.lport);
        {
            let mut t = cx.inet().pcbinfo.write();
            if t.tcp_conns.contains_key(&(local, addr)) {
                return Err(Errno::EADDRNOTAVAIL);
            }
            t.tcp_conns.insert((local, addr), handle);
            // The bind bucket now holds the source address (Linux's
            // inet_rcv_saddr set at connect, inet_bhash2_update_saddr):
            // a wildcard bind no longer conflicts as a wildcard.
            let port = inp.lport;
            t.update(Proto::Tcp, port, handle, |u| {
                u.foreign = Some(addr);
                u.addr = laddr;
            });
        }
        inp.laddr = laddr;
        inp.faddr = dst;
        inp.fport = addr.port();
        let iss = tcp_new_isn(cx, now, local, addr);
        let tp = so.so_pcb.tcp_mut().expect("tcp");
        tp.iss = iss;
        tp.snd_una = iss;
        tp.snd_nxt = iss;
        tp.snd_max = iss;
        tp.snd_buf_seq = iss + 1;
        // Linux's tcp_connect_init: pushed_seq at the ISS.
        crate::netinet::tcp_push::tcp_push_init(tp, iss);
        tp.rcv_wscale = rcv_wscale;
        tp.ts_offset = crate::netinet::tcp_subr::tcp_ts_offset(cx, laddr, dst);
        tp.t_state = TcpState::SynSent;
        tp.t_maxseg = TCP_DEFAULT_MSS as usize;
        tp.inp.inp_flags |= INP_WASCONNECTED;
        so.sock_state = SockState::Connecting;
        Ok(())
    }
}

/// Send a Fast Open SYN with as much of `data` as it may carry (Linux's
/// tcp_sendmsg_fastopen; the connection is in SYN-SENT, no SYN sent):
/// the bytes it took, else EINPROGRESS (non-blocking) or EAGAIN (a
/// blocking caller then waits for the handshake and sends the rest).
fn tcp_sendmsg_fastopen(
    cx: &impl InetCx,
    now: Instant,
    so: &mut Socket,
    data: &[u8],
    flags: i32,
) -> Result<usize, Errno> {
    let nonblock = flags & MSG_DONTWAIT != 0;
    let tp = so.so_pcb.tcp().expect("tcp");
    let dst = tp.inp.faddr;
    let (fo, space, data_ok) = tcp_fastopen_syn_plan(cx, tp, dst, data.len());
    let n = if data_ok {
        so.so_snd.ring_mut().push(&data[..space])
    } else {
        0
    };
    if n > 0 && flags & MSG_ZEROCOPY != 0 && so.so_options.zerocopy {
        let id = so.so_zckey;
        so.so_zckey = id.wrapping_add(1);
        let end = so.so_snd.ring().len();
        if let Some(tp) = so.so_pcb.tcp_mut() {
            let seq = tp.snd_buf_seq + end;
            tp.rare_mut().zc_pending.push_back((seq, id));
        }
    }
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.tfo_mut().req = Some((fo, n));
        if !nonblock {
            // Linux's blocking Fast Open waits for the handshake (and then
            // sends the rest): the caller retries after EAGAIN.
            tp.tfo_mut().copied = Some(n);
            tp.write_pending = n < data.len();
        }
    }
    tcp_output(cx, now, so);
    tcp_timer_sync(cx, so);
    match n {
        _ if !nonblock => Err(Errno::EAGAIN),
        0 => Err(Errno::EINPROGRESS),
        n => Ok(n),
    }
}

/// TCP_CONGESTION: an algorithm by name (up to a NUL, 15 bytes at most);
/// one the stack does not have is ENOENT, as Linux answers for a name it
/// does not know. The state starts afresh (Linux's
/// tcp_reinit_congestion_control): on an open connection BBR starts at
/// once, else when the handshake ends.
fn tcp_set_congestion(so: &mut Socket, val: &[u8], now: Instant) -> Result<(), Errno> {
    if val.is_empty() {
        return Err(Errno::EINVAL);
    }
    let raw = &val[..val.len().min(15)];
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let name = std::str::from_utf8(&raw[..end]).map_err(|_| Errno::ENOENT)?;
    let algo = CcAlgo::from_name(name).ok_or(Errno::ENOENT)?;
    let tp = so.so_pcb.tcp_mut().ok_or(Errno::ENOPROTOOPT)?;
    tp.cc = CongCtl::new(algo);
    if tp.t_state.synchronized() {
        crate::netinet::tcp_cc::tcp_cc_bbr_init(tp, now);
    }
    Ok(())
}

/// Has this TCP connection data or a FIN not yet acknowledged? (The
/// shim's exit grace period waits while any has.)
pub(crate) fn tcp_unacked(so: &Socket) -> bool {
    so.so_pcb.tcp().is_some_and(|tp| {
        tp.t_state.synchronized()
            && tp.t_state != TcpState::TimeWait
            && (tp.snd_una != tp.snd_max || so.so_snd.cc() > 0)
    })
}
