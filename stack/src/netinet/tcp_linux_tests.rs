//! Packet-trace tests of wire behaviour that packetdrill's gtests/net/tcp
//! showed differing from Linux (docs/conformance.md): each pins what Linux
//! sends in the same situation, so CI keeps it without packetdrill.

use crate::linux::{
    IPPROTO_TCP, SOL_SOCKET, SO_MEMINFO, SO_RCVBUF, TCP_CC_INFO, TCP_INQ, TCP_MAXSEG,
};
use crate::testing::trace::{icmp4_unreach, me, peer, recv_all, recv_one, send, t0, Seg, ME};
use crate::wire::{TcpFlags, TcpOptions};
use crate::{Config, Errno, SockType, Stack, Sysctl};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;

/// packetdrill's gtests/net/tcp/common/defaults.sh buffer sysctls, with
/// this machine's net.core.rmem_max (4 MiB).
fn packetdrill_sysctl() -> Sysctl {
    Sysctl {
        tcp_rmem: [4096, 540_000, 15 << 20],
        tcp_wmem: [4096, 256 << 10, 4 << 20],
        rmem_max: 4 << 20,
        ..Sysctl::default()
    }
}

fn rcvbuf(s: &Stack, h: crate::SocketHandle) -> i32 {
    let mut b = [0u8; 4];
    s.getsockopt(h, SOL_SOCKET, SO_RCVBUF, &mut b).unwrap();
    i32::from_ne_bytes(b)
}

/// Linux reads the sysctls when a socket is created and when it sends its
/// SYN: a change made after the stack started (the shim attaches on the
/// first socket call, before a program or script sets its sysctls) counts
/// for the sockets and SYNs that follow. Under defaults.sh Linux's SYN and
/// SYN-ACK carry wscale 8 (ilog2(15 MiB) - 15), not the 7 of the boot-time
/// tcp_rmem.
#[test]
fn sysctls_changed_after_start_apply_to_new_sockets_and_syns() {
    let s = Stack::new(Config::new(ME, 24));
    let before = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(rcvbuf(&s, before), 131_072);

    s.set_sysctl(packetdrill_sysctl());
    let c = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(rcvbuf(&s, c), 540_000, "tcp_rmem[1] read at socket()");
    assert_eq!(
        rcvbuf(&s, before),
        131_072,
        "an older socket keeps its buffer"
    );

    assert_eq!(
        s.connect(t0(), c, Some(peer(8080))),
        Err(Errno::EINPROGRESS)
    );
    let syn = recv_one(&s);
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.options.window_scale, Some(8));

    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 1).unwrap();
    let opts = TcpOptions {
        mss: Some(1000),
        window_scale: Some(7),
        ..TcpOptions::default()
    };
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 0, 0, SYN).with_options(opts),
    );
    let synack = recv_one(&s);
    assert_eq!(synack.flags, SYN | ACK);
    assert_eq!(synack.options.window_scale, Some(8));

    // tcp_window_scaling=0 set later: no option in the next SYN.
    s.set_sysctl(Sysctl {
        tcp_window_scaling: false,
        ..packetdrill_sysctl()
    });
    let c2 = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        s.connect(t0(), c2, Some(peer(8081))),
        Err(Errno::EINPROGRESS)
    );
    assert_eq!(recv_one(&s).options.window_scale, None);
}

/// net.core.rmem_max above tcp_rmem[2] raises the scale, as in Linux's
/// tcp_select_initial_window.
#[test]
fn window_scale_counts_rmem_max() {
    let mut c = Config::new(ME, 24);
    c.sysctl.rmem_max = 32 << 20;
    let s = Stack::new(c);
    let h = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.connect(t0(), h, Some(peer(80))), Err(Errno::EINPROGRESS));
    assert_eq!(recv_one(&s).options.window_scale, Some(10));
}

fn set_maxseg(s: &Stack, h: crate::SocketHandle, v: i32) {
    s.setsockopt(t0(), h, IPPROTO_TCP, TCP_MAXSEG, &v.to_ne_bytes())
        .unwrap();
}

/// TCP_MAXSEG set before connect() lowers the MSS our SYN offers (Linux's
/// tcp_mss_clamp; packetdrill mss/mss-setsockopt-tcp_maxseg-client), and
/// the segments we send after it.
#[test]
fn tcp_maxseg_before_connect_lowers_the_syn_mss() {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_timestamps = false;
    let s = Stack::new(c);
    let h = s.socket(SockType::Stream, 0).unwrap();
    set_maxseg(&s, h, 1100);
    assert_eq!(s.connect(t0(), h, Some(peer(80))), Err(Errno::EINPROGRESS));
    let syn = recv_one(&s);
    assert_eq!(syn.options.mss, Some(1100));
    let opts = TcpOptions {
        mss: Some(1460),
        ..TcpOptions::default()
    };
    send(
        &s,
        t0(),
        &Seg::new(peer(80), syn.src, 5000, syn.seq + 1, SYN | ACK).with_options(opts),
    );
    assert_eq!(recv_one(&s).flags, ACK);
    s.send(t0(), h, &[7u8; 1500], 0, None).unwrap();
    let segs = recv_all(&s);
    assert_eq!(segs[0].payload.len(), 1100);
    // TCP_INFO: tcpi_snd_mss and tcpi_advmss (the clamped one) are 1100.
    let mut ti = [0u8; 104];
    s.getsockopt(h, IPPROTO_TCP, crate::linux::TCP_INFO, &mut ti)
        .unwrap();
    let at = |o: usize| u32::from_ne_bytes(ti[o..o + 4].try_into().unwrap());
    assert_eq!((at(16), at(84)), (1100, 1100));
}

/// On a listener, TCP_MAXSEG lowers the SYN-ACK's MSS (packetdrill
/// mss/mss-setsockopt-tcp_maxseg-server); without it the SYN-ACK offers
/// MTU - 40 whatever the peer offered.
#[test]
fn tcp_maxseg_on_listener_lowers_the_synack_mss() {
    let s = Stack::new(Config::new(ME, 24));
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 4).unwrap();
    let syn = |port: u16| {
        let opts = TcpOptions {
            mss: Some(1300),
            ..TcpOptions::default()
        };
        send(
            &s,
            t0(),
            &Seg::new(peer(port), me(8080), 0, 0, SYN).with_options(opts),
        );
        recv_one(&s).options.mss
    };
    assert_eq!(syn(5000), Some(1460));
    set_maxseg(&s, l, 1100);
    assert_eq!(syn(5001), Some(1100));
}

/// A connection accepted on :8080 from peer:5000 (ISN 0, MSS 1000, no
/// other options), the listener's SO_RCVBUF set first if given:
/// (accepted socket, our ISN + 1).
fn accepted(s: &Stack, rcvbuf: Option<i32>) -> (crate::SocketHandle, u32) {
    let l = s.socket(SockType::Stream, 0).unwrap();
    if let Some(b) = rcvbuf {
        s.setsockopt(t0(), l, SOL_SOCKET, SO_RCVBUF, &b.to_ne_bytes())
            .unwrap();
    }
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 1).unwrap();
    let opts = TcpOptions {
        mss: Some(1000),
        ..TcpOptions::default()
    };
    send(
        s,
        t0(),
        &Seg::new(peer(5000), me(8080), 0, 0, SYN).with_options(opts),
    );
    let synack = recv_one(s);
    send(
        s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, synack.seq + 1, ACK),
    );
    assert!(recv_all(s).is_empty());
    (s.accept(l).unwrap().0, synack.seq + 1)
}

/// Reading data out of a mostly open window sends nothing (Linux's
/// tcp_cleanup_rbuf only announces a window at least twice the one the
/// peer still has; packetdrill blocking/blocking-read).
#[test]
fn read_from_an_open_window_sends_no_window_update() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, None);
    let data = Seg::new(peer(5000), me(8080), 1, iss, ACK | TcpFlags::PSH).with_payload(&[1; 2000]);
    send(&s, t0(), &data);
    let acks = recv_all(&s);
    assert!(acks.iter().all(|a| a.payload.is_empty()));
    let mut buf = [0u8; 4000];
    assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 2000);
    assert!(recv_all(&s).is_empty(), "no window update after the read");
}

/// Reading from a window the peer saw (nearly) closed announces the
/// reopened window at once.
#[test]
fn read_that_reopens_a_closed_window_sends_an_update() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, Some(2304));
    let mut seq = 1u32;
    let mut last = None;
    for _ in 0..8 {
        let d = Seg::new(peer(5000), me(8080), seq, iss, ACK).with_payload(&[2; 1000]);
        send(&s, t0(), &d);
        if let Some(a) = recv_all(&s).into_iter().last() {
            last = Some(a);
        }
        seq += 1000;
    }
    let closed = last.expect("acks");
    assert_eq!(closed.window, 0, "the small buffer filled: {closed:?}");
    let mut buf = [0u8; 8000];
    assert!(s.recv(t0(), c, &mut buf, 0).unwrap().copied > 0);
    let upd = recv_one(&s);
    assert_eq!(upd.flags, ACK);
    assert!(upd.window > 0, "{upd:?}");
}

/// packetdrill's `%{ }%` blocks read TCP_INFO, TCP_CC_INFO and SO_MEMINFO
/// and stop at the first that fails. TCP_CC_INFO succeeds with length 0
/// (Reno and CUBIC have no get_info); SO_MEMINFO is sk_meminfo's nine u32.
#[test]
fn cc_info_and_meminfo_answer_like_linux() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, None);
    let mut b = [0xffu8; 64];
    assert_eq!(s.getsockopt(c, IPPROTO_TCP, TCP_CC_INFO, &mut b), Ok(0));
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, iss, ACK).with_payload(&[3; 700]),
    );
    recv_all(&s);
    assert_eq!(s.getsockopt(c, SOL_SOCKET, SO_MEMINFO, &mut b), Ok(36));
    let w = |i: usize| u32::from_ne_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
    assert_eq!(w(0), 700, "rmem_alloc: the unread bytes");
    assert_eq!(w(1) as i32, rcvbuf(&s, c), "rcvbuf");
    let mut small = [0u8; 8];
    assert_eq!(s.getsockopt(c, SOL_SOCKET, SO_MEMINFO, &mut small), Ok(8));
}

/// close() with unread data resets the connection; Linux's RST carries
/// the timestamp option like every segment of the connection
/// (packetdrill ts_recent/reset_tsval): TSval now, TSecr the peer's last.
#[test]
fn reset_on_close_carries_the_timestamp() {
    let s = Stack::new(Config::new(ME, 24));
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 1).unwrap();
    let ts = |val: u32, ecr: u32| TcpOptions {
        timestamp: Some((val, ecr)),
        ..TcpOptions::default()
    };
    let syn_opts = TcpOptions {
        mss: Some(1000),
        sack_permitted: true,
        ..ts(100, 0)
    };
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 0, 0, SYN).with_options(syn_opts),
    );
    let synack = recv_one(&s);
    let (our_ts, _) = synack.options.timestamp.expect("TS in the SYN-ACK");
    let iss = synack.seq + 1;
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, iss, ACK).with_options(ts(200, our_ts)),
    );
    let (c, _) = s.accept(l).unwrap();
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, iss, ACK)
            .with_payload(&[4; 1000])
            .with_options(ts(201, our_ts)),
    );
    recv_all(&s);
    s.close(t0() + std::time::Duration::from_secs(1), c)
        .unwrap();
    let rst = recv_one(&s);
    assert_eq!(rst.flags, TcpFlags::RST | ACK);
    assert_eq!((rst.seq, rst.ack), (iss, 1001));
    assert_eq!(rst.options.timestamp, Some((our_ts + 1000, 201)));
}

/// TCP_INQ (packetdrill inq/server): inherited from the listener; the hint
/// recvmsg reports is the unread byte count, plus one once the FIN came.
#[test]
fn tcp_inq_hint_counts_unread_bytes_and_the_fin() {
    let s = Stack::new(Config::new(ME, 24));
    let l = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.sockinfo(l).unwrap().inq_hint, None, "off by default");
    s.setsockopt(t0(), l, IPPROTO_TCP, TCP_INQ, &1i32.to_ne_bytes())
        .unwrap();
    assert_eq!(
        s.setsockopt(t0(), l, IPPROTO_TCP, TCP_INQ, &2i32.to_ne_bytes()),
        Err(Errno::EINVAL)
    );
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 1).unwrap();
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 0, 0, SYN).with_options(TcpOptions {
            mss: Some(1000),
            ..TcpOptions::default()
        }),
    );
    let iss = recv_one(&s).seq + 1;
    send(&s, t0(), &Seg::new(peer(5000), me(8080), 1, iss, ACK));
    let (c, _) = s.accept(l).unwrap();
    let mut b = [0u8; 4];
    assert_eq!(s.getsockopt(c, IPPROTO_TCP, TCP_INQ, &mut b), Ok(4));
    assert_eq!(i32::from_ne_bytes(b), 1);
    let inq = || s.sockinfo(c).unwrap().inq_hint;
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, iss, ACK).with_payload(&[5; 3000]),
    );
    let mut buf = [0u8; 3000];
    assert_eq!(s.recv(t0(), c, &mut buf[..2000], 0).unwrap().copied, 2000);
    assert_eq!(inq(), Some(1000));
    assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 1000);
    assert_eq!(inq(), Some(0));
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 3001, iss, ACK | TcpFlags::FIN).with_payload(&[6; 500]),
    );
    assert_eq!(inq(), Some(501));
    assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 500);
    assert_eq!(inq(), Some(1), "after the FIN: keep reading (EOF)");
}

/// TCP_INFO's times count from the handshake, as Linux sets lrcvtime,
/// lsndtime and rcv_tstamp when the connection is established
/// (packetdrill tcp_info/tcp-info-last_data_recv).
#[test]
fn tcp_info_times_count_from_the_handshake() {
    let s = Stack::new(Config::new(ME, 24));
    let c = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.connect(t0(), c, Some(peer(80))), Err(Errno::EINPROGRESS));
    let syn = recv_one(&s);
    let opts = TcpOptions {
        mss: Some(1000),
        ..TcpOptions::default()
    };
    let t1 = t0() + std::time::Duration::from_millis(30);
    send(
        &s,
        t1,
        &Seg::new(peer(80), syn.src, 0, syn.seq + 1, SYN | ACK).with_options(opts),
    );
    recv_all(&s);
    let t2 = t1 + std::time::Duration::from_secs(1);
    s.handle_timeout(t2);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_last_data_recv, 1000);
    assert_eq!(ti.tcpi_last_data_sent, 1000);
    assert_eq!(ti.tcpi_last_ack_recv, 1000);
    let b = ti.to_bytes();
    let at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!(
        (at(44), at(52), at(56)),
        (1000, 1000, 1000),
        "Linux's offsets"
    );
    send(
        &s,
        t2,
        &Seg::new(peer(80), syn.src, 1, syn.seq + 1, ACK).with_payload(&[7; 100]),
    );
    s.send(t2, c, b"reply", 0, None).unwrap();
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_last_data_recv, 0);
    assert_eq!(ti.tcpi_last_data_sent, 0);
    assert_eq!(ti.tcpi_last_ack_recv, 0);
}

/// Slow start as Linux's tcp_slow_start: cwnd grows by one MSS per segment
/// an ACK covers (an ACK of two segments: +2), while the flow is
/// cwnd-limited (cwnd < 2 * the largest flight of the window); packetdrill
/// slow_start/slow-start-app-limited: 10 → 12 → 14 → 16 → 18 → 20.
#[test]
fn slow_start_grows_by_segments_acked_while_cwnd_limited() {
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_timestamps = false;
    let s = Stack::new(c);
    let (h, iss) = accepted(&s, None);
    let cwnd = || s.tcp_info(h).unwrap().tcpi_snd_cwnd;
    assert_eq!(s.send(t0(), h, &[8u8; 10_000], 0, None), Ok(10_000));
    let segs = recv_all(&s);
    assert_eq!(segs.iter().map(|g| g.payload.len()).sum::<usize>(), 10_000);
    assert_eq!(cwnd(), 10);
    for (i, want) in [12, 14, 16, 18, 20].into_iter().enumerate() {
        let ack = iss + 2000 * (i as u32 + 1);
        send(&s, t0(), &Seg::new(peer(5000), me(8080), 1, ack, ACK));
        assert_eq!(cwnd(), want, "after the ACK of {ack}");
    }
    // Now nothing is in flight and the window's largest flight was 10
    // segments: an application-limited flow stops growing at 20.
    assert_eq!(s.send(t0(), h, &[9u8; 1000], 0, None), Ok(1000));
    recv_all(&s);
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, iss + 11_000, ACK),
    );
    assert_eq!(cwnd(), 20, "not cwnd-limited: no growth");
}

/// TCP_CONGESTION: the default is net.ipv4.tcp_congestion_control when the
/// stack has it, else CUBIC (getsockopt says what runs); reno, cubic and
/// bbr can be chosen, other names are ENOENT; the name comes back
/// NUL-padded to 16 bytes, cut to the caller's length.
#[test]
fn tcp_congestion_names_what_runs() {
    use crate::linux::TCP_CONGESTION;
    let get = |s: &Stack, h, len: usize| {
        let mut b = vec![0xffu8; len];
        let n = s
            .getsockopt(h, IPPROTO_TCP, TCP_CONGESTION, &mut b)
            .unwrap();
        b.truncate(n);
        b
    };
    let mut c = Config::new(ME, 24);
    c.sysctl.tcp_congestion_control = "vegas".into();
    let s = Stack::new(c);
    let h = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(get(&s, h, 16), b"cubic\0\0\0\0\0\0\0\0\0\0\0");
    assert_eq!(get(&s, h, 3), b"cub");
    s.setsockopt(t0(), h, IPPROTO_TCP, TCP_CONGESTION, b"reno")
        .unwrap();
    assert_eq!(&get(&s, h, 16)[..5], b"reno\0");
    s.setsockopt(t0(), h, IPPROTO_TCP, TCP_CONGESTION, b"bbr\0xyz")
        .unwrap();
    assert_eq!(&get(&s, h, 16)[..4], b"bbr\0");
    assert_eq!(
        s.setsockopt(t0(), h, IPPROTO_TCP, TCP_CONGESTION, b"vegas"),
        Err(Errno::ENOENT)
    );
    s.set_sysctl(Sysctl {
        tcp_congestion_control: "bbr".into(),
        ..Sysctl::default()
    });
    let b = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(&get(&s, b, 16)[..4], b"bbr\0", "this machine's default");
    s.set_sysctl(Sysctl {
        tcp_congestion_control: "reno".into(),
        ..Sysctl::default()
    });
    let r = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(&get(&s, r, 16)[..5], b"reno\0");
}

/// Send-buffer autotuning by the congestion control: an accepted
/// connection's send buffer is the algorithm's multiple (tcp_sndbuf_expand:
/// BBR's 3, CUBIC's 2) of ten segments at twice a segment's size, at
/// least tcp_wmem[1]. With BBR, packetdrill's epoll_out_edge.pkt
/// (tcp_wmem[1] 50,000, MSS 1,000) takes a 59,000-byte write whole, as
/// the kernel does; with CUBIC the 50,000 of before.
#[test]
fn send_buffer_grows_by_the_congestion_controls_multiple() {
    for (algo, want) in [("cubic", 50_000), ("bbr", 60_000), ("reno", 50_000)] {
        let mut c = Config::new(ME, 24);
        c.sysctl.tcp_congestion_control = algo.into();
        c.sysctl.tcp_wmem = [4096, 50_000, 4_194_304];
        let s = Stack::new(c);
        let (h, _) = accepted(&s, None);
        assert_eq!(s.tcp_info(h).unwrap().tcpi_snd_mss, 1000);
        let mut v = [0u8; 4];
        s.getsockopt(h, SOL_SOCKET, crate::linux::SO_SNDBUF, &mut v)
            .unwrap();
        assert_eq!(i32::from_ne_bytes(v), want, "{algo}");
        assert_eq!(
            s.send(t0(), h, &[1; 59_000], crate::linux::MSG_DONTWAIT, None),
            Ok(want.min(59_000) as usize),
            "{algo}"
        );
    }
}

/// PSH where a Linux receiver sees it (packetdrill slow_start/): on the
/// last segment of each burst that cwnd ends, not only on the segment
/// that empties the send buffer (GRO merges a burst up to its PSH, so
/// Linux's TSO bursts and ours look alike).
#[test]
fn psh_ends_each_cwnd_limited_burst() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, None);
    assert_eq!(s.send(t0(), c, &[3; 30_000], 0, None), Ok(30_000));
    let burst = recv_all(&s);
    assert_eq!(burst.len(), 10, "the initial window");
    let psh: Vec<bool> = burst
        .iter()
        .map(|g| g.flags.contains(TcpFlags::PSH))
        .collect();
    assert_eq!(psh.iter().filter(|&&p| p).count(), 1);
    assert!(psh[9], "the burst's last segment");
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 1, iss + 1000, ACK),
    );
    let burst = recv_all(&s);
    assert_eq!(burst.len(), 2, "slow start: one more segment");
    assert!(!burst[0].flags.contains(TcpFlags::PSH));
    assert!(burst[1].flags.contains(TcpFlags::PSH));
}

/// MSG_ZEROCOPY on a socket with SO_ZEROCOPY: each send gets an id; once
/// its data is acknowledged, a completion waits on the error queue
/// (POLLERR) as a sock_extended_err (origin ZEROCOPY, code COPIED, ids in
/// ee_info..ee_data); completions that follow on share one entry; the
/// queue empty is EAGAIN (packetdrill zerocopy/).
#[test]
fn zerocopy_completions_wait_on_the_error_queue() {
    use crate::linux::{MSG_ERRQUEUE, MSG_ZEROCOPY, SO_ZEROCOPY};
    use crate::Readiness;
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, None);
    s.setsockopt(t0(), c, SOL_SOCKET, SO_ZEROCOPY, &1i32.to_ne_bytes())
        .unwrap();
    let mut ee = [0u8; 16];
    assert_eq!(
        s.recv(t0(), c, &mut ee, MSG_ERRQUEUE).map(|m| m.copied),
        Err(Errno::EAGAIN)
    );
    assert_eq!(s.send(t0(), c, &[1; 4000], MSG_ZEROCOPY, None), Ok(4000));
    recv_all(&s);
    assert_eq!(
        s.recv(t0(), c, &mut ee, MSG_ERRQUEUE).map(|m| m.copied),
        Err(Errno::EAGAIN),
        "not before the ACK"
    );
    let ack = |n: u32| send(&s, t0(), &Seg::new(peer(5000), me(8080), 1, iss + n, ACK));
    ack(4000);
    assert!(s.sopoll(c).contains(Readiness::ERR));
    assert_eq!(s.recv(t0(), c, &mut ee, MSG_ERRQUEUE).unwrap().copied, 16);
    assert_eq!(&ee[4..8], &[5, 0, 1, 0], "origin ZEROCOPY, code COPIED");
    assert_eq!((&ee[8..12], &ee[12..16]), (&[0u8; 4][..], &[0u8; 4][..]));
    assert!(!s.sopoll(c).contains(Readiness::ERR));
    // Two sends, one ACK: one entry for ids 1..2.
    assert_eq!(s.send(t0(), c, &[1; 1000], MSG_ZEROCOPY, None), Ok(1000));
    assert_eq!(s.send(t0(), c, &[1; 1000], MSG_ZEROCOPY, None), Ok(1000));
    recv_all(&s);
    ack(6000);
    assert_eq!(s.recv(t0(), c, &mut ee, MSG_ERRQUEUE).unwrap().copied, 16);
    assert_eq!(u32::from_ne_bytes(ee[8..12].try_into().unwrap()), 1);
    assert_eq!(u32::from_ne_bytes(ee[12..16].try_into().unwrap()), 2);
    assert_eq!(
        s.recv(t0(), c, &mut ee, MSG_ERRQUEUE).map(|m| m.copied),
        Err(Errno::EAGAIN)
    );
}

/// A fast retransmission of the burst's first segment carries no PSH
/// (Linux retransmits the head of its skb; packetdrill fast_retransmit/).
#[test]
fn fast_retransmit_has_no_psh() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, None);
    assert_eq!(s.send(t0(), c, &[3; 4000], 0, None), Ok(4000));
    assert_eq!(recv_all(&s).len(), 4);
    let dup = Seg::new(peer(5000), me(8080), 1, iss, ACK);
    for _ in 0..3 {
        send(&s, t0(), &dup);
    }
    let re = recv_one(&s);
    assert_eq!((re.seq, re.payload.len()), (iss, 1000));
    assert!(!re.flags.contains(TcpFlags::PSH));
}

/// A SYN-ACK echoing a timestamp our SYN never sent is reset (RST at its
/// ACK) and the connection stays in SYN-SENT; a right one completes it
/// (Linux's tcp_rcv_synsent_state_process; packetdrill
/// fastopen/client/synack-data).
#[test]
fn synack_with_a_bad_tsecr_is_reset() {
    let s = Stack::new(Config::new(ME, 24));
    let h = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.connect(t0(), h, Some(peer(80))), Err(Errno::EINPROGRESS));
    let syn = recv_one(&s);
    let (tsval, _) = syn.options.timestamp.expect("timestamps on");
    let synack = |ecr: u32| {
        let opts = TcpOptions {
            mss: Some(1460),
            timestamp: Some((7, ecr)),
            ..TcpOptions::default()
        };
        Seg::new(peer(80), syn.src, 5000, syn.seq + 1, SYN | ACK).with_options(opts)
    };
    send(&s, t0(), &synack(tsval.wrapping_add(1_000_000)));
    let rst = recv_one(&s);
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, syn.seq + 1));
    send(&s, t0(), &synack(tsval));
    assert_eq!(recv_one(&s).flags, ACK);
}

/// A host unreachable for our SYN-ACK forgets the half-open connection
/// (Linux's tcp_req_err): the ACK that follows finds none and is reset
/// (packetdrill fastopen/server/icmp-baseline).
#[test]
fn icmp_unreachable_drops_a_half_open_connection() {
    use crate::wire::icmpv4;
    let s = Stack::new(Config::new(ME, 24));
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, 1).unwrap();
    send(&s, t0(), &Seg::new(peer(5000), me(8080), 0, 0, SYN));
    let synack = s.poll_transmit().expect("the SYN-ACK");
    let iss = Seg::parse(&synack).unwrap().seq;
    let code = icmpv4::dst_unreachable::HOST_UNREACH;
    s.handle_frame(t0(), &icmp4_unreach(code, 0, &synack));
    send(&s, t0(), &Seg::new(peer(5000), me(8080), 1, iss + 1, ACK));
    let rst = recv_one(&s);
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, iss + 1));
    assert_eq!(s.accept(l).map(|_| ()), Err(Errno::EAGAIN));
}

/// D-SACK (RFC 2883, Linux's tcp_dsack_set): a segment received again
/// is acknowledged at once with its range as the first SACK block, a
/// partly old one with its old part; only once, and only with SACK.
#[test]
fn duplicate_segments_are_dsacked() {
    let s = Stack::new(Config::new(ME, 24));
    let opts = TcpOptions {
        mss: Some(1000),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let (_, iss) = crate::testing::trace::accepted_with(&s, opts);
    let data = |seq: u32, n: usize| {
        Seg::new(peer(5000), me(8080), seq, iss, ACK | TcpFlags::PSH).with_payload(&vec![1; n])
    };
    send(&s, t0(), &data(1, 100));
    recv_all(&s);
    send(&s, t0(), &data(1, 100));
    let a = recv_one(&s);
    assert_eq!((a.ack, a.options.sack_blocks[0]), (101, Some((1, 101))));
    // Partly old: 51..101 again with 101..151 new.
    send(&s, t0(), &data(51, 100));
    let a = recv_one(&s);
    assert_eq!((a.ack, a.options.sack_blocks[0]), (151, Some((51, 101))));
    assert_eq!(a.options.sack_blocks[1], None);
    // The next ACK carries no D-SACK.
    send(&s, t0(), &data(151, 10));
    let a = recv_all(&s);
    assert!(
        a.iter().all(|g| g.options.sack_blocks[0].is_none()),
        "{a:#?}"
    );
}

/// Data for a connection its program has closed (FIN-WAIT-1) ends it,
/// and the RST answers the segment as for one no socket takes: sequence
/// number its ACK, no ACK flag (Linux's abort on data;
/// packetdrill user_timeout/user_timeout.pkt).
#[test]
fn data_after_close_is_answered_by_a_reset_of_the_segment() {
    let s = Stack::new(Config::new(ME, 24));
    let (c, iss) = accepted(&s, None);
    s.close(t0(), c).unwrap();
    let fin = recv_one(&s);
    assert_eq!((fin.flags, fin.seq), (TcpFlags::FIN | ACK, iss));
    let data = Seg::new(peer(5000), me(8080), 1, iss, ACK).with_payload(&[1]);
    send(&s, t0(), &data);
    let rst = recv_one(&s);
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, iss));
    // Gone: the next segment finds no socket.
    send(&s, t0(), &data);
    assert_eq!(recv_one(&s).flags, TcpFlags::RST);
}
