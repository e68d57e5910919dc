//! Passive opens (FreeBSD's tcp_syncache.c): SYNs to a listener become
//! compact `SynEntry`s in its SYN cache (on the listener's TcpCb: no socket
//! yet), answered with SYN-ACKs and retransmitted from the listener's
//! timer; the completing ACK asks the socket layer for the connection's
//! socket (`sonewconn`, which runs TCP's `pru_attach`), fills its TcpCb in
//! from the entry (`syncache_socket`) and queues it for accept()
//! (`soqinsque`). All under the listener's lock (no global ACCEPT lock).
//! When the SYN queue is full, SYN cookies (tcp_syncookie.rs) stand in
//! for entries.

use std::net::SocketAddr;
use std::time::Duration;

use crate::kern::lockorder::so_lock;
use crate::kern::socket::Socket;
use crate::kern::uipc::{sonewconn, soqinsque};
use crate::netinet::in_pcb::{Inpcb, PortUser, Proto, INP_WASCONNECTED};
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_ecn::{ecn_syn_ok, ecn_synack_flags};
use crate::netinet::tcp_fastopen::{tcp_try_fastopen, TfoVerdict};
use crate::netinet::tcp_input::{tcp_input_conn, tcp_set_maxseg, tcp_sndbuf_expand};
use crate::netinet::tcp_output::tcp_output;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_subr::tcp_timer_sync;
use crate::netinet::tcp_subr::{
    rcv_wscale_for, tcp_emit, tcp_mss_clamp_to, tcp_new_isn, tcp_reset_for, tcp_ts,
};
use crate::netinet::tcp_syncookie::{
    cookie_check, cookie_make, cookie_ts, cookie_ts_decode, SYNCOOKIE_VALID_US,
};
use crate::netinet::tcp_synwait::{synwait_hold, synwait_next, synwait_take};
use crate::netinet::tcp_var::{
    SynEntry, SynOptions, TcpCb, TcpState, TCP_DEFAULT_MSS, TCP_RTO_INITIAL, TCP_RTO_MAX,
};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::{FastOpen, TcpFlags, TcpOptions, TcpRepr};

/// The listener's TcpCb.
fn listener_tcpcb(l: &mut Socket) -> &mut TcpCb {
    l.so_pcb
        .tcp_mut()
        .expect("a TCP listener has a TcpCb for its whole life")
}

/// Linux's sk_acceptq_is_full on the listener's complete queue.
fn comp_full(l: &Socket) -> bool {
    l.so_listen().is_some_and(|q| q.comp_full())
}

/// A segment for a listener (its socket locked), RFC 9293 §3.10.7.2
/// (LISTEN) with a SYN cache: a RST removes a matching half-open entry; a
/// SYN makes one (or answers again); the ACK that completes a handshake
/// creates the connection.
///
/// `segment` is the segment as it arrived when it came over loopback: a
/// SYN that finds the accept queue full may then wait (tcp_synwait.rs).
#[allow(clippy::too_many_arguments)]
pub(crate) fn syncache_input(
    cx: &impl InetCx,
    now: Instant,
    l: &mut Socket,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &TcpRepr,
    ip_ecn: u8,
    segment: Option<&[u8]>,
) {
    if l.so_listen().is_none() {
        return;
    }
    let flags = seg.flags;
    let tp = listener_tcpcb(l);
    debug_assert_eq!(
        tp.t_state,
        TcpState::Listen,
        "syncache_input: a socket with a listen queue is in LISTEN"
    );
    let sc = &mut tp.syncache();
    debug_assert!(
        sc.limit > 0,
        "syncache_input: a listener's SYN cache has a limit"
    );
    let existing = sc.find(local, remote);
    if flags.contains(TcpFlags::RST) {
        if let Some(i) = existing {
            if Seq(seg.seq) == sc.entries[i].irs + 1 {
                sc.entries.remove(i);
            }
        }
        return;
    }
    if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
        syncache_syn(cx, now, l, local, remote, seg, existing, (ip_ecn, segment));
        return;
    }
    if !flags.contains(TcpFlags::ACK) || flags.contains(TcpFlags::SYN) {
        return;
    }
    syncache_ack(cx, now, l, local, remote, seg, existing);
}

/// Is the listener's SYN queue full (Linux's
/// inet_csk_reqsk_queue_is_full: as many half-open entries as the
/// backlog)?
fn synq_full(l: &mut Socket) -> bool {
    let qlimit = l.so_listen().map_or(0, |q| q.sol_qlimit) as usize;
    let sc = &listener_tcpcb(l).syncache();
    sc.entries.len() >= qlimit.min(sc.limit)
}

/// A SYN: answer a retransmitted one again; else, when the SYN queue is
/// full, a SYN cookie (tcp_syncookies 1; always with 2; a drop, counted,
/// with 0: the peer retries); unless the accept queue is full (counted),
/// make an entry and send its SYN-ACK.
#[allow(clippy::too_many_arguments)]
fn syncache_syn(
    cx: &impl InetCx,
    now: Instant,
    l: &mut Socket,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &TcpRepr,
    existing: Option<usize>,
    (ip_ecn, segment): (u8, Option<&[u8]>),
) {
    if let Some(i) = existing {
        let e = listener_tcpcb(l).syncache().entries[i].clone();
        send_synack(cx, now, l, &e, None, None);
        return;
    }
    let sys = cx.sysctl();
    let want_cookie = match sys.tcp_syncookies {
        0 => false,
        1 => synq_full(l),
        _ => true,
    };
    if !want_cookie && synq_full(l) {
        Stats::bump(&cx.stats().drop_listen_overflow);
        return;
    }
    if comp_full(l) {
        if synwait_hold(now, l, (local, remote), seg, segment, ip_ecn) {
            arm_listener_timer(l);
        } else {
            Stats::bump(&cx.stats().drop_listen_overflow);
        }
        return;
    }
    let ts = seg.options.timestamp.filter(|_| sys.tcp_timestamps);
    // A cookie keeps the window scale and SACK in the timestamp: without
    // one the connection has neither (Linux's tcp_clear_options).
    let keep = !want_cookie || ts.is_some();
    let wscale = seg
        .options
        .window_scale
        .filter(|_| sys.tcp_window_scaling && keep);
    let mut e = SynEntry {
        local,
        remote,
        iss: tcp_new_isn(cx, now, local, remote),
        irs: Seq(seg.seq),
        peer: SynOptions {
            mss: seg.options.mss.unwrap_or(TCP_DEFAULT_MSS),
            wscale,
            sack_ok: sys.tcp_sack && seg.options.sack_permitted && keep,
            ts_recent: ts.map(|(v, _)| v),
            // A cookie does not keep ECN (Linux keeps it in the timestamp).
            ecn_ok: !want_cookie && ecn_syn_ok(&sys, seg, ip_ecn),
        },
        rcv_wscale: if wscale.is_some() {
            rcv_wscale_for(&sys)
        } else {
            0
        },
        ts_offset: crate::netinet::tcp_subr::tcp_ts_offset(cx, local.ip(), remote.ip()),
        retransmits: 0,
        acked: false,
        first_sent: now,
        rexmt_at: now + TCP_RTO_INITIAL,
    };
    if want_cookie {
        // Nothing is kept: the SYN-ACK's sequence number (and timestamp)
        // carries the handshake.
        let (iss, _) = cookie_make(cx, now, local, remote, e.irs, e.peer.mss);
        e.iss = iss;
        let tsval = cookie_ts(tcp_ts(now, 0), e.peer.wscale, e.peer.sack_ok);
        listener_tcpcb(l).syncache().last_overflow = Some(now);
        Stats::bump(&cx.stats().syncookies_sent);
        send_synack(cx, now, l, &e, None, Some(tsval.wrapping_add(e.ts_offset)));
        return;
    }
    match tcp_try_fastopen(cx, listener_tcpcb(l), local, remote, seg) {
        TfoVerdict::Child => syncache_socket(cx, now, l, &e, seg, true),
        TfoVerdict::Handshake(fo) => {
            // Only the first SYN-ACK carries the cookie (Linux).
            send_synack(cx, now, l, &e, fo, None);
            listener_tcpcb(l).syncache().entries.push_back(e);
            arm_listener_timer(l);
        }
    }
}

/// An ACK: it completes the handshake of its entry if it acknowledges our
/// SYN-ACK exactly (else RST) and follows the peer's SYN; with room on the
/// complete queue (else ignored and counted: the peer retries, as Linux's
/// tcp_abort_on_overflow = 0), the connection is created.
fn syncache_ack(
    cx: &impl InetCx,
    now: Instant,
    l: &mut Socket,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &TcpRepr,
    existing: Option<usize>,
) {
    let Some(i) = existing else {
        match syncookie_entry(cx, now, l, local, remote, seg) {
            Some(e) if comp_full(l) => {
                // As for an entry: ignored, the peer retries (its ACK
                // keeps carrying the cookie).
                let _ = e;
                Stats::bump(&cx.stats().drop_listen_overflow);
            }
            Some(e) => {
                Stats::bump(&cx.stats().syncookies_recv);
                syncache_socket(cx, now, l, &e, seg, false);
            }
            None => tcp_reset_for(cx, local, remote, seg),
        }
        return;
    };
    let e = listener_tcpcb(l).syncache().entries[i].clone();
    if Seq(seg.ack) != e.iss + 1 {
        tcp_reset_for(cx, local, remote, seg);
        return;
    }
    if Seq(seg.seq) != e.irs + 1 {
        return;
    }
    // TCP_DEFER_ACCEPT (tcp_check_req): a bare ACK within the deferring
    // period creates nothing; data (or the ACK to the SYN-ACK sent at its
    // end) will.
    let defer = listener_tcpcb(l).defer_accept;
    if e.retransmits < defer && seg.payload.is_empty() && !seg.flags.contains(TcpFlags::FIN) {
        listener_tcpcb(l).syncache().entries[i].acked = true;
        return;
    }
    if comp_full(l) {
        Stats::bump(&cx.stats().drop_listen_overflow);
        return;
    }
    listener_tcpcb(l).syncache().entries.remove(i);
    syncache_socket(cx, now, l, &e, seg, false);
}

/// The entry a cookie ACK (no entry matched) stands for, if it carries a
/// cookie we made (checked only while the listener overflowed in the last
/// two minutes, or always with tcp_syncookies 2; a bad one is counted).
fn syncookie_entry(
    cx: &impl InetCx,
    now: Instant,
    l: &mut Socket,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &TcpRepr,
) -> Option<SynEntry> {
    let sys = cx.sysctl();
    let recent = listener_tcpcb(l)
        .syncache()
        .last_overflow
        .is_some_and(|t| now.saturating_duration_since(t).as_micros() < SYNCOOKIE_VALID_US as u128);
    if sys.tcp_syncookies == 0 || (sys.tcp_syncookies == 1 && !recent) {
        return None;
    }
    let irs = Seq(seg.seq.wrapping_sub(1));
    let iss = Seq(seg.ack.wrapping_sub(1));
    let ts_offset = crate::netinet::tcp_subr::tcp_ts_offset(cx, local.ip(), remote.ip());
    let ts = seg.options.timestamp.filter(|_| sys.tcp_timestamps);
    let decoded = match ts {
        None => Some((None, false)),
        Some((_, ecr)) => cookie_ts_decode(
            ecr.wrapping_sub(ts_offset),
            sys.tcp_window_scaling,
            sys.tcp_sack,
        ),
    };
    let (Some(mss), Some((wscale, sack_ok))) =
        (cookie_check(cx, now, local, remote, irs, iss), decoded)
    else {
        Stats::bump(&cx.stats().syncookies_failed);
        return None;
    };
    Some(SynEntry {
        local,
        remote,
        iss,
        irs,
        peer: SynOptions {
            mss,
            wscale,
            sack_ok,
            ts_recent: ts.map(|(v, _)| v),
            ecn_ok: false,
        },
        rcv_wscale: if wscale.is_some() {
            rcv_wscale_for(&sys)
        } else {
            0
        },
        ts_offset,
        // No RTT sample: when the SYN-ACK left is not known.
        retransmits: 1,
        acked: true,
        first_sent: now,
        rexmt_at: now,
    })
}

/// The connection's TcpCb from its entry, the completing ACK and the
/// listener: ESTABLISHED, with the options the SYN negotiated, the first
/// RTT sample, and what the child inherits (the listener's IP options --
/// TTL, TOS, IP_RECVERR, IP_PKTINFO, IP_MTU_DISCOVER... as Linux's sk_clone
/// -- and its TCP options).
fn syncache_tcpcb(
    cx: &impl InetCx,
    now: Instant,
    l: &Socket,
    e: &SynEntry,
    seg: &TcpRepr,
) -> TcpCb {
    let ltp = l.so_pcb.tcp();
    let mut inp = ltp.map_or_else(|| Inpcb::new(cx.sysctl().ip_default_ttl), |t| t.inp);
    inp.inp_flags = INP_WASCONNECTED;
    inp.laddr = e.local.ip();
    inp.lport = e.local.port();
    inp.faddr = e.remote.ip();
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
        tp.cc = crate::netinet::tcp_cubic::CongCtl::new(lt.cc.algo());
        tp.user_timeout = lt.user_timeout;
        tp.syn_retries = lt.syn_retries;
        tp.defer_accept = lt.defer_accept;
        tp.window_clamp = lt.window_clamp;
        tp.notsent_lowat = lt.notsent_lowat;
        if let Some(v) = lt.rare.as_ref().and_then(|r| r.notsent_lowat_sys) {
            tp.set_notsent_lowat_sys(v);
        }
        // TCP_QUICKACK 0 on the listener (pingpong) carries over.
        tp.pingpong = lt.pingpong;
    }
    tp.t_state = TcpState::Established;
    tp.lrcvtime = now;
    tp.lsndtime = now;
    tp.rcv_tstamp = now;
    tp.iss = e.iss;
    tp.irs = e.irs;
    tp.snd_una = e.iss + 1;
    tp.snd_nxt = e.iss + 1;
    tp.snd_max = e.iss + 1;
    tp.snd_buf_seq = e.iss + 1;
    // Linux's tcp_create_openreq_child: pushed_seq after the SYN.
    crate::netinet::tcp_push::tcp_push_init(&mut tp, e.iss + 1);
    tp.rcv_nxt = e.irs + 1;
    // The SYN-ACK advertised min(buffer, 65535), unscaled.
    tp.rcv_adv = tp.rcv_nxt + l.so_rcv.sb_hiwat().min(65535);
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
    tp.ecn.ok = e.peer.ecn_ok;
    tp.delivered = 1; // our SYN-ACK
    let mtu = crate::netinet::ip_pmtu::pmtu_below(cx, tp.inp.faddr, cx.config().mtu);
    tcp_set_maxseg(&mut tp, e.peer.mss, mtu);
    tp.snd_wnd = (seg.window as u32) << tp.snd_wscale;
    tp.max_sndwnd = tp.snd_wnd;
    tp.snd_wl1 = Seq(seg.seq);
    tp.snd_wl2 = Seq(seg.ack);
    if e.retransmits == 0 {
        tp.rtt_update(now.saturating_duration_since(e.first_sent));
    }
    tp
}

/// Create the connection of a completed handshake (FreeBSD's
/// syncache_socket): the socket layer makes its socket (`sonewconn`, TCP's
/// `pru_attach`), its TcpCb is filled in from the entry, it enters the
/// connection and port tables, and joins the listener's complete queue;
/// then data or a FIN that came with the ACK is processed.
///
/// `fastopen`: the SYN itself makes the connection (Linux's
/// tcp_fastopen_create_child, `seg` the SYN): SYN-RECEIVED, the SYN's data
/// queued to be read and acknowledged by the SYN-ACK it sends now, and
/// accept() returns it before the handshake completes.
fn syncache_socket(
    cx: &impl InetCx,
    now: Instant,
    l: &mut Socket,
    e: &SynEntry,
    seg: &TcpRepr,
    fastopen: bool,
) {
    let Some((h, cref)) = sonewconn(cx, l) else {
        return;
    };
    let mut tp = syncache_tcpcb(cx, now, l, e, seg);
    if fastopen {
        tp.t_state = TcpState::SynReceived;
        tp.fastopen_child = true;
        tp.delivered = 0; // the SYN-ACK is not acknowledged yet
        tp.snd_una = e.iss;
        tp.snd_nxt = e.iss;
        tp.snd_max = e.iss;
        tp.snd_wnd = seg.window as u32; // a SYN's window is not scaled
        tp.max_sndwnd = tp.snd_wnd;
        tp.rtt_reset();
    }
    let opts = l.so_options;
    // Listener before child: the lock order allows taking the child now.
    let mut c = so_lock(&cref);
    *c.so_pcb.tcp_mut().expect("TCP's pru_attach made a TcpCb") = tp;
    {
        let mut t = cx.inet().pcbinfo.write();
        t.tcp_conns.insert((e.local, e.remote), h);
        let user = PortUser {
            handle: h,
            addr: e.local.ip(),
            v6only: false,
            reuseaddr: opts.reuseaddr,
            reuseport: opts.reuseport,
            listening: false,
            foreign: Some(e.remote),
            dev: crate::netinet::in_pcb::DEV_NONE,
        };
        // A child shares its listener's port without a conflict check.
        t.add_user(Proto::Tcp, e.local.port(), user);
    }
    soqinsque(cx, l, h);
    tcp_sndbuf_expand(cx, &mut c);
    if opts.keepalive {
        if let Some(tp) = c.so_pcb.tcp_mut() {
            tp.t_timers.keep = Some(now + tp.keepidle);
        }
    }
    if fastopen {
        let n = c.so_rcv.ring_mut().push(seg.payload);
        if let Some(tp) = c.so_pcb.tcp_mut() {
            tp.rcv_nxt += n;
            tp.rcv_adv = tp.rcv_nxt;
            tp.syn_data_acked = n > 0;
        }
        tcp_output(cx, now, &mut c);
        cx.sockets().sowakeup(h);
    } else if !seg.payload.is_empty() || seg.flags.contains(TcpFlags::FIN) {
        tcp_input_conn(cx, now, &mut c, seg, Default::default());
    }
    tcp_timer_sync(cx, &mut c);
}

/// A SYN-ACK for entry `e`; `tsval` replaces our timestamp clock's value
/// (a cookie's).
fn send_synack(
    cx: &impl InetCx,
    now: Instant,
    l: &Socket,
    e: &SynEntry,
    fo: Option<FastOpen>,
    tsval: Option<u32>,
) {
    let mss = l
        .so_pcb
        .tcp()
        .map_or(1460, |t| tcp_mss_clamp_to(t, e.remote.ip()));
    let options = TcpOptions {
        mss: Some(mss),
        window_scale: e.peer.wscale.map(|_| e.rcv_wscale),
        sack_permitted: e.peer.sack_ok,
        timestamp: e
            .peer
            .ts_recent
            .map(|r| (tsval.unwrap_or_else(|| tcp_ts(now, e.ts_offset)), r)),
        fast_open: fo,
        ..TcpOptions::default()
    };
    let repr = TcpRepr {
        src_port: e.local.port(),
        dst_port: e.remote.port(),
        seq: e.iss.0,
        ack: (e.irs + 1).0,
        flags: TcpFlags::SYN | TcpFlags::ACK | ecn_synack_flags(e.peer.ecn_ok),
        window: l.so_rcv.sb_hiwat().min(65535) as u16,
        urgent: 0,
        options,
        payload: &[],
    };
    let hops6 = cx.sysctl().ipv6_hop_limit;
    let (ttl, tos) = l
        .so_pcb
        .tcp()
        .map_or((64, 0), |t| t.inp.ttl_tos_to(e.remote.ip(), hops6));
    tcp_emit(
        cx,
        e.local,
        e.remote,
        ttl,
        tos,
        &repr,
        (&[], &[]),
        crate::netinet::in_pcb::DEV_NONE,
    );
}

/// A hard ICMP error for a half-open connection: forget it (Linux's
/// tcp_req_err); its ACK, if one comes, is then answered with a RST.
pub(crate) fn syncache_unreach(l: &mut Socket, local: SocketAddr, remote: SocketAddr) {
    if l.so_listen().is_none() {
        return;
    }
    let tp = listener_tcpcb(l);
    if let Some(i) = tp.syncache().find(local, remote) {
        tp.syncache().entries.remove(i);
    }
    arm_listener_timer(l);
}

/// The listener's retransmission timer: the earliest SYN-ACK due, or
/// the earliest deadline of a SYN waiting for room.
fn arm_listener_timer(l: &mut Socket) {
    let listening = l.so_listen().is_some();
    let waiting = if listening { synwait_next(l) } else { None };
    if let Some(tp) = l.so_pcb.tcp_mut() {
        tp.t_timers.rexmt = if listening {
            let synack = tp.syncache().entries.iter().map(|e| e.rexmt_at).min();
            synack.into_iter().chain(waiting).min()
        } else {
            None
        };
    }
}

/// The listener's timer: retransmit SYN-ACKs, expire entries after
/// the listener's TCP_SYNCNT, else tcp_synack_retries (Linux's
/// reqsk_timer_handler; 1 s doubling).
pub(crate) fn syncache_timer(cx: &impl InetCx, now: Instant, l: &mut Socket) {
    debug_assert_eq!(
        listener_tcpcb(l).t_state,
        TcpState::Listen,
        "syncache_timer: only a listener has a SYN cache"
    );
    let retries = match listener_tcpcb(l).syn_retries {
        0 => cx.sysctl().tcp_synack_retries,
        n => n.into(),
    };
    let mut resend = Vec::new();
    let listening = l.so_listen().is_some();
    if let (true, Some(tp)) = (listening, l.so_pcb.tcp_mut()) {
        let defer = tp.defer_accept;
        tp.syncache().entries.retain_mut(|e| {
            if e.rexmt_at > now {
                return true;
            }
            // syn_ack_recalc: an entry whose ACK came lives through the
            // deferring period, silent until its last round, when one
            // SYN-ACK gives the peer a last chance to complete it.
            if e.retransmits >= retries && (!e.acked || e.retransmits >= defer) {
                return false;
            }
            let send = !e.acked || e.retransmits + 1 >= defer;
            e.retransmits += 1;
            // Linux's reqsk_timeout: 1 s doubling, at most TCP_RTO_MAX.
            e.rexmt_at = now + Duration::from_secs(1u64 << e.retransmits.min(7)).min(TCP_RTO_MAX);
            if send {
                resend.push(e.clone());
            }
            true
        });
    }
    for e in &resend {
        send_synack(cx, now, l, e, None, None);
    }
    if listening {
        syncache_admit(cx, now, l, true);
    }
    arm_listener_timer(l);
}

/// accept(2) looked at the listener's queue (and took a connection if
/// there was one): someone drains it, and loopback SYNs waiting for room
/// go in while there is some (tcp_synwait.rs).
pub(crate) fn syncache_accepted(cx: &impl InetCx, l: &mut Socket) {
    if l.so_listen().is_none() {
        return;
    }
    let tp = listener_tcpcb(l);
    tp.syncache().accepting = true;
    if !tp.syncache().waiting.is_empty() {
        syncache_admit(cx, cx.last_now(), l, false);
        arm_listener_timer(l);
    }
}

/// Let waiting SYNs in as they would have gone on arrival; with
/// `expire`, drop (and count) those whose wait is over without room.
fn syncache_admit(cx: &impl InetCx, now: Instant, l: &mut Socket, expire: bool) {
    let (admit, expired) = synwait_take(now, l, expire);
    for w in &admit {
        let Ok(seg) = TcpRepr::parse_unverified(&w.segment) else {
            continue;
        };
        let seg = TcpRepr {
            payload: &seg.payload[..w.keep.min(seg.payload.len())],
            ..seg
        };
        syncache_input(cx, now, l, w.local, w.remote, &seg, w.ip_ecn, None);
    }
    for _ in &expired {
        Stats::bump(&cx.stats().drop_listen_overflow);
    }
}
