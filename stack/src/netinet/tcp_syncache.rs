//! Passive opens: SYNs to a listener become compact `SynEntry`s on its
//! incomplete queue (`sol_incomp`), answered with SYN-ACKs and retransmitted
//! from the listener's timer; the completing ACK runs `sonewconn`, which
//! creates the connection's socket and puts it on the complete queue
//! (`sol_comp`). All under the listener's lock (no global ACCEPT lock).

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::api::SockType;
use crate::host::Stack;
use crate::kern::listen::{SynEntry, SynOptions};
use crate::kern::sockbuf::SockBuf;
use crate::kern::socket::{QState, SockState, Socket};
use crate::netinet::in_pcb::{Inpcb, Pcb, PortUser, Proto};
use crate::netinet::tcp_input::{tcp_input_conn, tcp_set_maxseg};
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::{
    rcv_wscale_for, tcp_emit, tcp_mss_clamp, tcp_new_isn, tcp_reset_for, tcp_ts,
};
use crate::netinet::tcp_timer::tcp_timer_sync;
use crate::netinet::tcp_var::{TcpCb, TcpState, TCP_DEFAULT_MSS, TCP_RTO_INITIAL};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpOptions, TcpRepr};

pub(crate) fn syncache_input(
    stack: &Stack,
    now: Instant,
    l: &mut Socket,
    local: SocketAddrV4,
    remote: SocketAddrV4,
    seg: &TcpRepr,
) {
    let flags = seg.flags;
    let Some(q) = l.so_listen.as_mut() else {
        return;
    };
    let existing = q.find_incomp(local, remote);
    if flags.contains(TcpFlags::RST) {
        if let Some(i) = existing {
            if Seq(seg.seq) == q.sol_incomp[i].irs + 1 {
                q.sol_incomp.remove(i);
            }
        }
        return;
    }
    if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
        if let Some(i) = existing {
            // A retransmitted SYN: answer again.
            let e = q.sol_incomp[i].clone();
            send_synack(stack, now, l, &e);
            return;
        }
        if q.comp_full() || q.sol_incomp.len() >= q.sol_incomp_limit {
            Stats::bump(&stack.stats.drop_listen_overflow);
            return;
        }
        let sys = &stack.sysctl();
        let wscale = seg.options.window_scale.filter(|_| sys.tcp_window_scaling);
        let ts = seg.options.timestamp.filter(|_| sys.tcp_timestamps);
        let e = SynEntry {
            local,
            remote,
            iss: tcp_new_isn(stack, now, local, remote),
            irs: Seq(seg.seq),
            peer: SynOptions {
                mss: seg.options.mss.unwrap_or(TCP_DEFAULT_MSS),
                wscale,
                sack_ok: sys.tcp_sack && seg.options.sack_permitted,
                ts_recent: ts.map(|(v, _)| v),
            },
            rcv_wscale: if wscale.is_some() {
                rcv_wscale_for(sys)
            } else {
                0
            },
            ts_offset: crate::netinet::tcp_subr::tcp_ts_offset(stack, *local.ip(), *remote.ip()),
            retransmits: 0,
            first_sent: now,
            rexmt_at: now + TCP_RTO_INITIAL,
        };
        send_synack(stack, now, l, &e);
        if let Some(q) = l.so_listen.as_mut() {
            q.sol_incomp.push_back(e);
        }
        arm_listener_timer(l);
        return;
    }
    if !flags.contains(TcpFlags::ACK) || flags.contains(TcpFlags::SYN) {
        return;
    }
    let Some(i) = existing else {
        tcp_reset_for(stack, local, remote, seg);
        return;
    };
    let e = q.sol_incomp[i].clone();
    if Seq(seg.ack) != e.iss + 1 {
        tcp_reset_for(stack, local, remote, seg);
        return;
    }
    if Seq(seg.seq) != e.irs + 1 {
        return;
    }
    if q.comp_full() {
        // Linux (tcp_abort_on_overflow = 0): ignore the ACK; the peer retries.
        Stats::bump(&stack.stats.drop_listen_overflow);
        return;
    }
    q.sol_incomp.remove(i);
    sonewconn(stack, now, l, &e, seg);
}

/// Create the connection's socket from a completed handshake and queue it
/// on the listener's complete queue (it holds the queue's reference).
fn sonewconn(stack: &Stack, now: Instant, l: &mut Socket, e: &SynEntry, seg: &TcpRepr) {
    // The child inherits the listener's IP options (TTL, TOS, IP_RECVERR,
    // IP_PKTINFO, IP_MTU_DISCOVER...), as Linux's sk_clone does.
    let ltp = l.so_pcb.tcp();
    let mut inp = ltp.map_or_else(|| Inpcb::new(stack.sysctl().ip_default_ttl), |t| t.inp);
    inp.inp_flags = 0;
    inp.laddr = *e.local.ip();
    inp.lport = e.local.port();
    inp.faddr = *e.remote.ip();
    inp.fport = e.remote.port();
    let mut tp = TcpCb::new(inp);
    if let Some(lt) = ltp {
        tp.nodelay = lt.nodelay;
        tp.keepidle = lt.keepidle;
        tp.keepintvl = lt.keepintvl;
        tp.keepcnt = lt.keepcnt;
        tp.user_mss = lt.user_mss;
        tp.recvmsg_inq = lt.recvmsg_inq;
        tp.linger2 = lt.linger2;
        tp.mss_offer = lt.mss_offer;
    }
    tp.t_state = TcpState::Established;
    tp.iss = e.iss;
    tp.irs = e.irs;
    tp.snd_una = e.iss + 1;
    tp.snd_nxt = e.iss + 1;
    tp.snd_max = e.iss + 1;
    tp.snd_buf_seq = e.iss + 1;
    tp.rcv_nxt = e.irs + 1;
    // The SYN-ACK advertised min(buffer, 65535), unscaled.
    tp.rcv_adv = tp.rcv_nxt + l.so_rcv.sb_hiwat.min(65535);
    tp.wscale_ok = e.peer.wscale.is_some();
    tp.snd_wscale = e.peer.wscale.unwrap_or(0).min(14);
    tp.rcv_wscale = e.rcv_wscale;
    tp.sack_ok = e.peer.sack_ok;
    tp.ts_ok = e.peer.ts_recent.is_some();
    tp.ts_recent = seg
        .options
        .timestamp
        .map_or(e.peer.ts_recent.unwrap_or(0), |(v, _)| v);
    tp.ts_offset = e.ts_offset;
    tcp_set_maxseg(&mut tp, e.peer.mss, stack.config.mtu);
    tp.snd_wnd = (seg.window as u32) << tp.snd_wscale;
    tp.max_sndwnd = tp.snd_wnd;
    tp.snd_wl1 = Seq(seg.seq);
    tp.snd_wl2 = Seq(seg.ack);
    if e.retransmits == 0 {
        tp.rtt_update(now.saturating_duration_since(e.first_sent));
    }
    let mut rcv = SockBuf::stream(l.so_rcv.sb_hiwat);
    rcv.sb_lowat = l.so_rcv.sb_lowat;
    rcv.user_locked = l.so_rcv.user_locked;
    let mut snd = SockBuf::stream(l.so_snd.sb_hiwat);
    snd.user_locked = l.so_snd.user_locked;
    let opts = l.so_options;
    let listener = l.handle;
    let (h, cref) = stack.slot_insert(|h| {
        let mut c = Socket::new(h, SockType::Stream, Pcb::Tcp(Box::new(tp)), rcv, snd);
        c.so_options = opts;
        c.so_options.acceptconn = false;
        c.so_options.linger = opts.linger;
        c.attached = true;
        c.so_qstate = QState::Comp;
        c.so_head = Some(listener);
        c.sock_state = SockState::Connected;
        c.soisconnected();
        c
    });
    {
        let mut t = stack.pcbinfo.write();
        t.tcp_conns.insert((e.local, e.remote), h);
        let user = PortUser {
            handle: h,
            addr: *e.local.ip(),
            reuseaddr: opts.reuseaddr,
            reuseport: opts.reuseport,
            listening: false,
            foreign: Some(e.remote),
        };
        // A child shares its listener's port without a conflict check.
        t.add_user(Proto::Tcp, e.local.port(), user);
    }
    if let Some(q) = l.so_listen.as_mut() {
        q.sol_comp.push_back(h);
    }
    stack.sowakeup(listener);
    // Listener before child: the lock order allows taking the child now.
    let mut c = crate::kern::lockorder::so_lock(&cref);
    crate::netinet::tcp_input::tcp_sndbuf_expand(stack, &mut c);
    if opts.keepalive {
        if let Some(tp) = c.so_pcb.tcp_mut() {
            tp.t_timers.keep = Some(now + tp.keepidle);
        }
    }
    if !seg.payload.is_empty() || seg.flags.contains(TcpFlags::FIN) {
        tcp_input_conn(stack, now, &mut c, seg);
    }
    tcp_timer_sync(stack, &mut c);
}

fn send_synack(stack: &Stack, now: Instant, l: &Socket, e: &SynEntry) {
    let mss = l.so_pcb.tcp().map_or(1460, tcp_mss_clamp);
    let options = TcpOptions {
        mss: Some(mss),
        window_scale: e.peer.wscale.map(|_| e.rcv_wscale),
        sack_permitted: e.peer.sack_ok,
        timestamp: e.peer.ts_recent.map(|r| (tcp_ts(now, e.ts_offset), r)),
        ..TcpOptions::default()
    };
    let repr = TcpRepr {
        src_port: e.local.port(),
        dst_port: e.remote.port(),
        seq: e.iss.0,
        ack: (e.irs + 1).0,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: l.so_rcv.sb_hiwat.min(65535) as u16,
        urgent: 0,
        options,
        payload: &[],
    };
    let (ttl, tos) = l.so_pcb.tcp().map_or((64, 0), |t| (t.inp.ttl, t.inp.tos));
    tcp_emit(stack, e.local, e.remote, ttl, tos, &repr, (&[], &[]));
}

fn arm_listener_timer(l: &mut Socket) {
    let next = l
        .so_listen
        .as_ref()
        .and_then(|q| q.sol_incomp.iter().map(|e| e.rexmt_at).min());
    if let Some(tp) = l.so_pcb.tcp_mut() {
        tp.t_timers.rexmt = next;
    }
}

/// The listener's timer: retransmit SYN-ACKs, expire entries after
/// tcp_synack_retries (Linux: 1 s doubling).
pub(crate) fn syncache_timer(stack: &Stack, now: Instant, l: &mut Socket) {
    let retries = stack.sysctl().tcp_synack_retries;
    let mut resend = Vec::new();
    if let Some(q) = l.so_listen.as_mut() {
        q.sol_incomp.retain_mut(|e| {
            if e.rexmt_at > now {
                return true;
            }
            if e.retransmits >= retries {
                return false;
            }
            e.retransmits += 1;
            e.rexmt_at = now + Duration::from_secs(1u64 << e.retransmits.min(6));
            resend.push(e.clone());
            true
        });
    }
    for e in &resend {
        send_synack(stack, now, l, e);
    }
    arm_listener_timer(l);
}
