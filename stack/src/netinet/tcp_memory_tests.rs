//! Memory per connection (issue 18: at most 1.5 KiB of process memory per
//! idle established connection): the sizes of what every connection
//! carries, so that they do not grow back silently, and what an idle
//! connection keeps on the heap. A field added to these structures must
//! either fit or lower the bound elsewhere; `scripts/bench --only scale`
//! measures the whole (server and client RSS per held connection).

use std::mem::size_of;

use crate::kern::socket::Socket;
use crate::netinet::in_pcb::Inpcb;
use crate::netinet::tcp_var::TcpCb;

/// Each connection's TcpCb is one allocation of this size: 688 bytes, 16
/// more since ECN (its state, 12 bytes, read on every segment, and the
/// pointer to MSG_EOR's record ends, boxed while there are any), then
/// 664: srtt/rttvar/rto as u32 microseconds, TCP_KEEPCNT and TCP_SYNCNT
/// as u8 (a 672-byte malloc chunk, not 720); then 648 with tcpi_delivered
/// and tcp_push.rs's skb model (12 bytes) and one pointer to what few
/// connections use (tcp_rare.rs: zerocopy sends, push marks, TX
/// timestamps, D-SACK, urgent mode, Fast Open's SYN, a listener's SYN
/// cache; 40 bytes inline before); then 696 with BBR's state inline in
/// the congestion state (136 bytes, CUBIC's 64 and the counter in the
/// same place; BBR was a boxed 224-byte struct, a 240-byte malloc chunk
/// on top): a 704-byte chunk for every connection, 192 bytes fewer for
/// a BBR one.
const TCPCB_MAX: usize = 696;
/// Each socket is one allocation of this size (in an `Arc<Mutex<_>>`,
/// 24 bytes more): 376, + 8 for SO_ATTACH_FILTER's `so_filter` pointer,
/// then 304 with the buffers' rings' offsets as u32 and a stream
/// buffer's high-water mark its ring's capacity (SockBuf 112 -> 72; a
/// 336-byte malloc chunk, not 416).
const SOCKET_MAX: usize = 304;
/// BBR's state (tcp_bbr.rs; this machine's default algorithm), inline in
/// the TcpCb's congestion state, which is no larger: 136 bytes (Linux's
/// struct bbr is 104; ours also holds the pacing clock, timer and rate,
/// the latest delivery time, the seed and the window counter, which
/// Linux keeps in tcp_sock).
const BBR_MAX: usize = 136;

#[test]
fn the_structures_every_connection_carries_do_not_grow() {
    assert!(
        size_of::<TcpCb>() <= TCPCB_MAX,
        "TcpCb is {} bytes (at most {TCPCB_MAX})",
        size_of::<TcpCb>()
    );
    assert!(
        size_of::<Socket>() <= SOCKET_MAX,
        "Socket is {} bytes (at most {SOCKET_MAX})",
        size_of::<Socket>()
    );
    let bbr = size_of::<crate::netinet::tcp_bbr::Bbr>();
    assert!(bbr <= BBR_MAX, "Bbr is {bbr} bytes (at most {BBR_MAX})");
    let cc = size_of::<crate::netinet::tcp_cubic::CongCtl>();
    assert!(
        cc <= BBR_MAX,
        "CongCtl is {cc} bytes: BBR's mode must tell the algorithms apart"
    );
}

#[test]
fn a_new_connection_holds_no_reassembly_or_recovery_storage() {
    let tp = TcpCb::new(Inpcb::new(64));
    assert_eq!(tp.reass.storage(), 0, "reassembly list: only with a hole");
    assert!(
        !tp.rec.is_live(),
        "recovery state: only with data in flight"
    );
}

#[test]
fn an_idle_connection_gives_its_recovery_state_back() {
    use crate::netinet::so_pcb::InPcb;
    use crate::testing::pair::Pair;
    let mut p = Pair::new(18);
    let (_l, c, s) = p.connected(8018);
    let data = vec![7u8; 100_000];
    assert_eq!(p.transfer(true, c, s, &data).len(), data.len());
    assert_eq!(p.transfer(false, s, c, b"x").len(), 1);
    p.drive();
    for (stack, h) in [(&p.a, c), (&p.b, s)] {
        let (sack, live, reass, rare) = stack
            .with_socket(h, |so| {
                let tp = so.so_pcb.tcp().expect("a TCP socket");
                let rare = tp.rare.is_some();
                Ok((tp.sack_ok, tp.rec.is_live(), tp.reass.storage(), rare))
            })
            .unwrap();
        assert!(sack, "SACK was agreed: the scoreboard was in use");
        assert!(!live, "everything acknowledged: no recovery state held");
        assert_eq!(reass, 0);
        assert!(!rare, "push marks all acknowledged: no rare state held");
    }
}
