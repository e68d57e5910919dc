//! Packet-trace tests of TCP Fast Open (RFC 7413) as Linux does it
//! (packetdrill's gtests/net/tcp/fastopen): the server's cookies, SYN data
//! accepted and the child accepted before the handshake completes; the
//! client's cookie request, cached cookie and MSS, SYN data and its
//! retransmission, TCP_FASTOPEN_CONNECT.

use crate::linux::{
    IPPROTO_TCP, MSG_DONTWAIT, MSG_FASTOPEN, TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, TCP_INFO,
};
use crate::netinet::tcp_fastopen::tcp_fastopen_cookie_gen;
use crate::netinet::tcp_info::TCPI_OPT_SYN_DATA;
use crate::testing::trace::{icmp4_unreach, me, peer, recv_all, recv_one, send, t0, Seg, ME, PEER};
use crate::wire::{FastOpen, TcpFlags, TcpOptions};
use crate::{Config, Errno, SockType, SocketHandle, Stack, Sysctl};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const KEY: [u64; 2] = [0xb2b2b2b2_a1a1a1a1, 0xd4d4d4d4_c3c3c3c3];

/// packetdrill's defaults.sh for Fast Open (0x70403 less its bits that
/// Linux ignores), without timestamps.
fn stack(tcp_fastopen: u32) -> Stack {
    let mut c = Config::new(ME, 24);
    c.sysctl = Sysctl {
        tcp_fastopen,
        tcp_fastopen_key: Some(KEY),
        tcp_timestamps: false,
        ..Sysctl::default()
    };
    Stack::new(c)
}

fn tcpi_options(s: &Stack, h: SocketHandle) -> u8 {
    let mut b = [0u8; 232];
    s.getsockopt(h, IPPROTO_TCP, TCP_INFO, &mut b).unwrap();
    b[5]
}

fn fo_syn(from: u16, isn: u32, fo: Option<FastOpen>, data: &[u8]) -> Seg {
    let opts = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        fast_open: fo,
        ..TcpOptions::default()
    };
    Seg::new(peer(from), me(8080), isn, 0, SYN)
        .with_options(opts)
        .with_payload(data)
}

/// The server (tcp_fastopen=0x403: every listener, queue = backlog): a
/// cookie request is answered with Linux's cookie; a SYN with that cookie
/// has its data acknowledged by the SYN-ACK, and its connection is
/// accepted, readable and writable before the third ACK; a wrong cookie
/// gets the right one back and a normal handshake (data not taken).
#[test]
fn server_answers_cookies_and_accepts_syn_data() {
    let s = stack(0x403);
    let l = listener(&s, 1);
    let mut q = [0u8; 4];
    s.getsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &mut q).unwrap();
    assert_eq!(
        i32::from_ne_bytes(q),
        1,
        "TFO_SERVER_WO_SOCKOPT1: the backlog"
    );
    let cookie = tcp_fastopen_cookie_gen(KEY, PEER.into(), ME.into());

    send(
        &s,
        t0(),
        &fo_syn(5000, 100, Some(FastOpen::request(false)), &[]),
    );
    let sa = recv_one(&s);
    assert_eq!((sa.flags, sa.ack), (SYN | ACK, 101));
    assert_eq!(sa.options.fast_open, Some(cookie));
    assert_eq!(s.accept(l), Err(Errno::EAGAIN), "a request makes no child");
    // The peer gives that handshake up: with its entry the SYN queue
    // (backlog 1) would be full, and the next SYN would get a SYN cookie
    // and no Fast Open, as on Linux.
    send(
        &s,
        t0(),
        &Seg::new(peer(5000), me(8080), 101, 0, TcpFlags::RST),
    );

    send(&s, t0(), &fo_syn(5001, 200, Some(cookie), b"0123456789"));
    let sa = recv_one(&s);
    assert_eq!((sa.flags, sa.ack), (SYN | ACK, 211), "the SYN's data acked");
    assert_eq!(sa.options.fast_open, None, "a valid cookie is not echoed");
    let (c, from) = s
        .accept(l)
        .expect("accepted before the handshake completes");
    assert_eq!(from, peer(5001));
    assert_ne!(tcpi_options(&s, c) & TCPI_OPT_SYN_DATA, 0);
    let mut buf = [0u8; 64];
    assert_eq!(s.recv(t0(), c, &mut buf, 0).unwrap().copied, 10);
    assert_eq!(&buf[..10], b"0123456789");
    assert_eq!(s.send(t0(), c, b"reply", 0, None), Ok(5));
    let d = recv_one(&s);
    assert_eq!(
        (d.flags, d.seq, d.ack),
        (ACK | TcpFlags::PSH, sa.seq + 1, 211)
    );
    assert_eq!(d.payload, b"reply");
    // The third ACK completes it.
    send(
        &s,
        t0(),
        &Seg::new(peer(5001), me(8080), 211, sa.seq + 6, ACK),
    );
    assert_eq!(s.send(t0(), c, b"more", 0, None), Ok(4));

    // Experimental option with a wrong cookie: the right one, same form.
    let mut wrong = FastOpen::cookie(&[0xaa; 8], true);
    send(&s, t0(), &fo_syn(5002, 300, Some(wrong), b"xyz"));
    let all = recv_all(&s);
    let sa = all.iter().find(|g| g.dst == peer(5002)).unwrap();
    assert_eq!(sa.ack, 301, "data not taken without a valid cookie");
    wrong = cookie;
    wrong.exp = true;
    assert_eq!(sa.options.fast_open, Some(wrong));
    assert_eq!(s.accept(l), Err(Errno::EAGAIN));
}

/// The client: a first MSG_FASTOPEN sendto() asks for a cookie (its SYN
/// carries no data: EINPROGRESS); the next one sends data in the SYN with
/// the cached cookie, sized by the server's cached MSS less 40 bytes; data
/// the SYN-ACK does not acknowledge is sent again at once.
/// TCP_FASTOPEN_CONNECT's connect() returns 0 and sends nothing; the first
/// write sends the SYN with its data.
#[test]
fn client_caches_cookie_and_sends_syn_data() {
    let s = stack(1);
    let data = [7u8; 2000];
    let fo = MSG_FASTOPEN | MSG_DONTWAIT;
    let a = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        s.send(t0(), a, &data[..1000], fo, Some(peer(80))),
        Err(Errno::EINPROGRESS)
    );
    let syn = recv_one(&s);
    assert_eq!(syn.flags, SYN);
    assert!(syn.payload.is_empty());
    assert_eq!(syn.options.fast_open, Some(FastOpen::request(false)));
    let cookie = FastOpen::cookie(&[1, 2, 3, 4, 5, 6, 7, 8], false);
    let opts = TcpOptions {
        mss: Some(940),
        fast_open: Some(cookie),
        ..TcpOptions::default()
    };
    let sa = Seg::new(peer(80), syn.src, 5000, syn.seq.wrapping_add(1), SYN | ACK);
    send(&s, t0(), &sa.clone().with_options(opts));
    assert_eq!(recv_one(&s).flags, ACK);
    assert_eq!(tcpi_options(&s, a) & TCPI_OPT_SYN_DATA, 0);

    // Cookie and MSS cached: 940 - 40 bytes go in the SYN.
    let b = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(s.send(t0(), b, &data, fo, Some(peer(80))), Ok(900));
    let syn = recv_one(&s);
    assert_eq!((syn.flags, syn.payload.len()), (SYN, 900));
    assert_eq!(syn.options.fast_open, Some(cookie));
    assert_eq!(
        s.send(t0(), b, &data, fo, Some(peer(80))),
        Err(Errno::EALREADY)
    );
    // The SYN-ACK takes the SYN only: the data goes again at once.
    let sa = synack_of(&syn, 7000, 1460);
    send(&s, t0(), &sa);
    let re = recv_one(&s);
    assert_eq!(
        (re.flags, re.seq),
        (ACK | TcpFlags::PSH, syn.seq.wrapping_add(1))
    );
    assert_eq!(re.payload.len(), 900);
    assert_eq!(tcpi_options(&s, b) & TCPI_OPT_SYN_DATA, 0);
    // That resend is no small segment for Nagle (Linux counts new data
    // only): a write's partial tail goes at once.
    assert_eq!(s.send(t0(), b, &data, MSG_DONTWAIT, None), Ok(2000));
    let sent: usize = recv_all(&s).iter().map(|g| g.payload.len()).sum();
    assert_eq!(sent, 2000);

    // TCP_FASTOPEN_CONNECT with a cookie: connect() defers the SYN.
    let c = s.socket(SockType::Stream, 0).unwrap();
    s.setsockopt(
        t0(),
        c,
        IPPROTO_TCP,
        TCP_FASTOPEN_CONNECT,
        &1i32.to_ne_bytes(),
    )
    .unwrap();
    assert_eq!(s.connect(t0(), c, Some(peer(80))), Ok(()));
    assert!(recv_all(&s).is_empty(), "no SYN before the first write");
    assert_eq!(s.connect(t0(), c, Some(peer(80))), Err(Errno::EISCONN));
    assert_eq!(s.send(t0(), c, &data[..100], MSG_DONTWAIT, None), Ok(100));
    let syn = recv_one(&s);
    assert_eq!((syn.flags, syn.payload.len()), (SYN, 100));
    let sa = Seg::new(
        peer(80),
        syn.src,
        9000,
        syn.seq.wrapping_add(101),
        SYN | ACK,
    );
    send(&s, t0(), &sa);
    let ack = recv_one(&s);
    assert_eq!((ack.flags, ack.seq), (ACK, syn.seq.wrapping_add(101)));
    assert_ne!(tcpi_options(&s, c) & TCPI_OPT_SYN_DATA, 0);
}

/// tcp_fastopen without the client bit: MSG_FASTOPEN and
/// TCP_FASTOPEN_CONNECT are EOPNOTSUPP (Linux).
#[test]
fn client_disabled_is_eopnotsupp() {
    let s = stack(0);
    let h = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        s.send(t0(), h, b"x", MSG_FASTOPEN, Some(peer(80))),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        s.setsockopt(
            t0(),
            h,
            IPPROTO_TCP,
            TCP_FASTOPEN_CONNECT,
            &1i32.to_ne_bytes()
        ),
        Err(Errno::EOPNOTSUPP)
    );
}

/// A listener on me:8080 with `backlog`.
fn listener(s: &Stack, backlog: i32) -> SocketHandle {
    let l = s.socket(SockType::Stream, 0).unwrap();
    s.bind(l, me(8080)).unwrap();
    s.listen(l, backlog).unwrap();
    l
}

/// peer(80)'s SYN-ACK (sequence `seq`, MSS `mss`) of our `syn`.
fn synack_of(syn: &Seg, seq: u32, mss: u16) -> Seg {
    let opts = TcpOptions {
        mss: Some(mss),
        ..TcpOptions::default()
    };
    Seg::new(peer(80), syn.src, seq, syn.seq.wrapping_add(1), SYN | ACK).with_options(opts)
}

/// A cookie for peer(80) in `s`'s cache, learnt from a cookie request.
fn learn_cookie(s: &Stack, mss: u16) -> FastOpen {
    let a = s.socket(SockType::Stream, 0).unwrap();
    let fo = MSG_FASTOPEN | MSG_DONTWAIT;
    assert_eq!(
        s.send(t0(), a, &[], fo, Some(peer(80))),
        Err(Errno::EINPROGRESS)
    );
    let syn = recv_one(s);
    let cookie = FastOpen::cookie(&[9, 8, 7, 6], false);
    let mut sa = synack_of(&syn, 1, mss);
    sa.options.fast_open = Some(cookie);
    send(s, t0(), &sa);
    recv_all(s);
    cookie
}

/// A blocking MSG_FASTOPEN send returns once the handshake is done, with
/// the SYN's bytes and the rest it then sends (the shim retries after
/// EAGAIN); the ACK of the SYN-ACK rides on that data (Linux delays it for
/// the waiting writer). Data on the SYN-ACK is taken and acknowledged.
#[test]
fn blocking_fastopen_send_waits_for_the_handshake() {
    let s = stack(1);
    learn_cookie(&s, 940);
    let data = [5u8; 1900];
    let b = s.socket(SockType::Stream, 0).unwrap();
    assert_eq!(
        s.send(t0(), b, &data, MSG_FASTOPEN, Some(peer(80))),
        Err(Errno::EAGAIN),
        "blocking: wait for the handshake"
    );
    let syn = recv_one(&s);
    assert_eq!(syn.payload.len(), 900);
    // The waiting caller's retry before the SYN-ACK.
    assert_eq!(
        s.send(t0(), b, &data, MSG_FASTOPEN, None),
        Err(Errno::EAGAIN)
    );
    let sa = Seg::new(
        peer(80),
        syn.src,
        3000,
        syn.seq.wrapping_add(901),
        SYN | ACK,
    )
    .with_options(TcpOptions {
        mss: Some(1460),
        ..TcpOptions::default()
    })
    .with_payload(b"early");
    send(&s, t0(), &sa);
    assert!(recv_all(&s).is_empty(), "the ACK waits for the writer");
    assert_eq!(s.send(t0(), b, &data, MSG_FASTOPEN, None), Ok(1900));
    let d = recv_one(&s);
    assert_eq!((d.seq, d.ack), (syn.seq.wrapping_add(901), 3006));
    assert_eq!(d.payload.len(), 1000);
    let mut buf = [0u8; 16];
    assert_eq!(s.recv(t0(), b, &mut buf, 0).unwrap().copied, 5);
    assert_eq!(&buf[..5], b"early");
    // tcpi_delivered as blocking-sendto.pkt: the SYN with its data is one
    // segment, the 1000 bytes after it one more.
    assert_eq!(s.tcp_info(b).unwrap().tcpi_delivered, 1);
    let ack = Seg::new(peer(80), syn.src, 3006, syn.seq.wrapping_add(1901), ACK);
    send(&s, t0(), &ack);
    assert_eq!(s.tcp_info(b).unwrap().tcpi_delivered, 2);
}

/// tcpi_delivered on the server (fastopen/server/simple3.pkt): none for a
/// Fast Open child before the handshake's ACK, one for the SYN-ACK, then
/// one per MSS of data acknowledged; a plain child starts at one.
#[test]
fn server_counts_delivered_segments() {
    let s = stack(0x403);
    let l = listener(&s, 4);
    send(
        &s,
        t0(),
        &fo_syn(5000, 0, Some(FastOpen::request(false)), &[]),
    );
    let cookie = recv_one(&s).options.fast_open.expect("a cookie");
    send(&s, t0(), &fo_syn(5001, 100, Some(cookie), b"hello"));
    let synack = recv_one(&s);
    let (c, _) = s.accept(l).unwrap();
    assert_eq!(s.tcp_info(c).unwrap().tcpi_delivered, 0);
    let iss = synack.seq.wrapping_add(1);
    send(&s, t0(), &Seg::new(peer(5001), me(8080), 106, iss, ACK));
    assert_eq!(s.tcp_info(c).unwrap().tcpi_delivered, 1);
    assert_eq!(s.send(t0(), c, &[1; 2000], 0, None), Ok(2000));
    recv_all(&s);
    let ack = Seg::new(peer(5001), me(8080), 106, iss.wrapping_add(2000), ACK);
    send(&s, t0(), &ack);
    assert_eq!(s.tcp_info(c).unwrap().tcpi_delivered, 3, "two MSS of data");
}

/// syn-data-icmp-unreach-frag-needed.pkt: a fragmentation needed for our
/// Fast Open SYN (MTU 800) sends a plain SYN again at once, without the
/// data or the cookie, offering MSS 760; the data goes after the SYN-ACK
/// (which took only the SYN) in segments the path allows.
#[test]
fn frag_needed_for_syn_data_resends_a_plain_syn() {
    use crate::wire::icmpv4::dst_unreachable::FRAG_NEEDED;
    let s = stack(1);
    learn_cookie(&s, 1040);
    let b = s.socket(SockType::Stream, 0).unwrap();
    let fo = MSG_FASTOPEN | MSG_DONTWAIT;
    assert_eq!(s.send(t0(), b, &[3; 9999], fo, Some(peer(80))), Ok(1000));
    let frame = s.poll_transmit().expect("the SYN with data");
    let syn = Seg::parse(&frame).unwrap();
    assert_eq!((syn.payload.len(), syn.options.mss), (1000, Some(1460)));
    s.handle_frame(t0(), &icmp4_unreach(FRAG_NEEDED, 800, &frame));
    let again = recv_one(&s);
    assert_eq!((again.flags, again.seq), (SYN, syn.seq));
    assert!(again.payload.is_empty());
    assert_eq!(again.options.mss, Some(760));
    assert_eq!(again.options.fast_open, None);
    let sa = synack_of(&syn, 0, 1040);
    send(&s, t0(), &sa);
    let data = recv_all(&s);
    let lens: Vec<usize> = data.iter().map(|g| g.payload.len()).collect();
    assert_eq!(lens, vec![760, 240], "the 1000 bytes in MSS 760");
    assert_eq!(tcpi_options(&s, b) & TCPI_OPT_SYN_DATA, 0);
}

/// simultaneous-fast-open.pkt: our Fast Open SYN crosses the peer's (with
/// data we do not take): SYN-RECEIVED answers with a SYN-ACK of the
/// peer's SYN only; the peer's SYN-ACK that then acknowledges our data
/// completes the handshake, and its repeated SYN is D-SACKed.
#[test]
fn crossed_fast_open_syns_complete_with_a_dsack() {
    let s = stack(1);
    let cookie = learn_cookie(&s, 1460);
    let c = s.socket(SockType::Stream, 0).unwrap();
    let fo = MSG_FASTOPEN | MSG_DONTWAIT;
    assert_eq!(s.send(t0(), c, &[4; 1000], fo, Some(peer(80))), Ok(1000));
    let syn = recv_one(&s);
    assert_eq!(
        (syn.payload.len(), syn.options.fast_open),
        (1000, Some(cookie))
    );
    let opts = TcpOptions {
        mss: Some(1040),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let their = Seg::new(peer(80), syn.src, 1234, 0, SYN)
        .with_options(opts)
        .with_payload(&[9; 500]);
    send(&s, t0(), &their);
    let sa = recv_one(&s);
    assert_eq!((sa.flags, sa.seq, sa.ack), (SYN | ACK, syn.seq, 1235));
    assert!(sa.payload.is_empty());
    let synack = Seg::new(
        peer(80),
        syn.src,
        1234,
        syn.seq.wrapping_add(1001),
        SYN | ACK,
    )
    .with_options(opts);
    send(&s, t0(), &synack);
    let a = recv_one(&s);
    assert_eq!(
        (a.flags, a.seq, a.ack),
        (ACK, syn.seq.wrapping_add(1001), 1235)
    );
    assert_eq!(a.options.sack_blocks[0], Some((1234, 1235)));
}

/// A listener's Fast Open queue without TCP_FASTOPEN, as Linux 6.18's
/// listen() sets it (checked there with getsockopt(TCP_FASTOPEN) for each
/// net.ipv4.tcp_fastopen below): the backlog only when both
/// TFO_SERVER_WO_SOCKOPT1 and TFO_SERVER_ENABLE are set, never over a
/// queue set before listen(), and not changed by a second listen(), also
/// after shutdown(SHUT_RD) stopped the listening.
#[test]
fn listen_sets_the_fast_open_queue_only_with_both_server_bits() {
    for (bits, want) in [
        (1, 0),
        (2, 0),
        (0x400, 0),
        (0x401, 0),
        (0x402, 7),
        (0x403, 7),
    ] {
        let s = stack(bits);
        let qlen = |h| {
            let mut q = [0u8; 4];
            s.getsockopt(h, IPPROTO_TCP, TCP_FASTOPEN, &mut q).unwrap();
            i32::from_ne_bytes(q)
        };
        let l = listener(&s, 7);
        assert_eq!(qlen(l), want, "tcp_fastopen {bits:#x}");
        s.listen(l, 9).unwrap();
        assert_eq!(qlen(l), want, "tcp_fastopen {bits:#x}: listen again");
        s.shutdown(t0(), l, crate::linux::SHUT_RD).unwrap();
        s.listen(l, 9).unwrap();
        assert_eq!(qlen(l), want, "tcp_fastopen {bits:#x}: after SHUT_RD");
        s.close(t0(), l).unwrap();

        let l = s.socket(SockType::Stream, 0).unwrap();
        s.setsockopt(t0(), l, IPPROTO_TCP, TCP_FASTOPEN, &3i32.to_ne_bytes())
            .unwrap();
        s.bind(l, me(8081)).unwrap();
        s.listen(l, 7).unwrap();
        assert_eq!(qlen(l), 3, "tcp_fastopen {bits:#x}: the queue set first");
    }
}
