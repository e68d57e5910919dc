//! Packet-trace tests of SACK loss recovery as Linux does it
//! (`tcp_recovery`): RACK marks a hole lost once DupThresh segments above
//! it are SACKed and only the hole is resent; SACKed segments make room
//! for new data (limited transmit); PRR spreads the reduction; an RTO
//! resends what is not SACKed and nothing the peer holds; a tail loss
//! probe after 2 * SRTT saves a lost tail from the RTO. Then two stacks
//! over a lossy link, where every retransmission must repair a loss.

use std::net::SocketAddr;
use std::time::Duration;

use crate::netinet::tcp_info::{
    TCPI_OPT_SACK, TCP_CA_DISORDER, TCP_CA_LOSS, TCP_CA_OPEN, TCP_CA_RECOVERY,
};
use crate::testing::pair::{LinkParams, Pair};
use crate::testing::trace::{in_flight, recv_all, send, Seg, ME, PEER};
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpOptions};
use crate::{SocketHandle, Stack};

const ACK: TcpFlags = TcpFlags::ACK;
const MSS: u32 = 1000;

fn me() -> SocketAddr {
    SocketAddr::new(ME.into(), 8080)
}

fn peer() -> SocketAddr {
    SocketAddr::new(PEER.into(), 5000)
}

/// A connection accepted from the peer (MSS 1000, SACK permitted, no
/// timestamps, RTT 10 ms) that wrote `bytes` bytes and sent `segs`
/// segments of them, none acknowledged yet: (stack, socket, our ISN + 1,
/// when it sent them).
fn flight(bytes: usize, segs: usize) -> (Stack, SocketHandle, u32, Instant) {
    let opts = TcpOptions {
        mss: Some(MSS as u16),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let f = in_flight(opts, bytes, segs);
    let ti = f.0.tcp_info(f.1).unwrap();
    assert_ne!(ti.tcpi_options & TCPI_OPT_SACK, 0, "SACK negotiated");
    f
}

/// The peer's ACK of `ack` with SACK blocks (absolute sequence numbers).
fn sack(s: &Stack, now: Instant, ack: u32, blocks: &[(u32, u32)]) {
    let mut o = TcpOptions::default();
    for (i, b) in blocks.iter().enumerate() {
        o.sack_blocks[i] = Some(*b);
    }
    send(s, now, &Seg::new(peer(), me(), 1, ack, ACK).with_options(o));
}

/// Segment 0 lost: the peer SACKs segments 1, 1-2 and 1-3, `gap` apart
/// from `t`. The third SACK makes RACK resend the hole and enter
/// recovery. Returns `t` plus three gaps.
fn sack_three_above_a_hole(s: &Stack, iss: u32, mut t: Instant, gap: Duration) -> Instant {
    for n in 2..=4u32 {
        sack(s, t, iss, &[(iss + MSS, iss + n * MSS)]);
        t = t + gap;
    }
    t
}

/// Run the stack's timers in order until one sends something (stale
/// heap entries send nothing): when, and what it sent.
fn next_timer_output(s: &Stack) -> (Instant, Vec<Seg>) {
    for _ in 0..20 {
        let t = s.poll_timeout().expect("a timer is armed");
        s.handle_timeout(t);
        let out = recv_all(s);
        if !out.is_empty() {
            return (t, out);
        }
    }
    panic!("no timer sent anything");
}

fn seqs(segs: &[Seg]) -> Vec<u32> {
    segs.iter().map(|g| g.seq).collect()
}

/// Ten segments out, the first lost. The first two SACKs each let one new
/// segment go (limited transmit: SACKed data leaves the pipe); the third
/// SACKed segment makes RACK mark the hole lost at once (no reordering
/// seen: the window is zero at DupThresh) and only the hole is resent;
/// then PRR sends about one new segment per two delivered, and the ACK
/// of everything ends recovery with cwnd = ssthresh.
#[test]
fn third_sack_resends_only_the_hole_and_prr_paces_the_rest() {
    // The initial window: 10 segments.
    let (s, c, iss, t1) = flight(30_000, 10);
    // The SACK for segment n arrives 10 ms after it left, 100 us apart.
    let t2 = t1 + Duration::from_millis(10);
    let at = |n: u32| t2 + Duration::from_micros(100 * n as u64);
    let blk = |n: u32| (iss + MSS, iss + MSS * (n + 1));
    sack(&s, at(1), iss, &[blk(1)]);
    assert_eq!(
        seqs(&recv_all(&s)),
        vec![iss + 10 * MSS],
        "limited transmit"
    );
    sack(&s, at(2), iss, &[blk(2)]);
    assert_eq!(
        seqs(&recv_all(&s)),
        vec![iss + 11 * MSS],
        "limited transmit"
    );
    assert_eq!(s.tcp_info(c).unwrap().tcpi_ca_state, TCP_CA_DISORDER);
    sack(&s, at(3), iss, &[blk(3)]);
    let out = recv_all(&s);
    assert_eq!(seqs(&out)[0], iss, "the hole first: {:?}", seqs(&out));
    assert!(
        out[1..].iter().all(|g| g.seq >= iss + 12 * MSS),
        "nothing SACKed is resent: {:?}",
        seqs(&out)
    );
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_ca_state, TCP_CA_RECOVERY);
    assert_eq!((ti.tcpi_sacked, ti.tcpi_lost, ti.tcpi_retrans), (3, 1, 1));
    let ssthresh = ti.tcpi_snd_ssthresh;
    assert_eq!(ssthresh, 7, "CUBIC's beta 0.7 of 10");
    // More SACKs: PRR sends about ssthresh / RecoverFS (0.7) per delivered.
    let mut sent = out.len() - 1;
    let mut delivered = 0;
    for n in 4..=9 {
        sack(&s, at(n), iss, &[blk(n)]);
        delivered += 1;
        let out = recv_all(&s);
        assert!(out.len() <= 2, "no burst: {:?}", seqs(&out));
        assert!(out.iter().all(|g| g.seq != iss), "the hole once");
        sent += out.len();
    }
    assert!(
        sent <= (delivered + 1) * 7 / 10 + 2,
        "PRR: {sent} new segments for {delivered} delivered"
    );
    // The retransmission arrives: everything sent so far is acknowledged.
    let t3 = at(9) + Duration::from_millis(10);
    let top = s.tcp_info(c).unwrap();
    let snd_max = iss + (top.tcpi_unacked) * MSS;
    sack(&s, t3, snd_max, &[]);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_ca_state, TCP_CA_OPEN);
    assert_eq!(ti.tcpi_snd_cwnd, ssthresh, "recovery ends at ssthresh");
    assert_eq!(ti.tcpi_total_retrans, 1);
}

/// With fewer than DupThresh segments SACKed RACK waits a quarter of the
/// minimum RTT for reordering (the reorder timer), then marks the hole
/// lost and resends it.
#[test]
fn reorder_timer_marks_the_hole_after_a_quarter_rtt() {
    let (s, c, iss, t1) = flight(2 * MSS as usize, 2);
    let t2 = t1 + Duration::from_millis(40);
    sack(&s, t2, iss, &[(iss + MSS, iss + 2 * MSS)]);
    assert!(recv_all(&s).is_empty(), "one SACKed segment: wait");
    // min RTT 40 ms: 10 ms reordering window, plus Linux's 2 ms.
    let (t, out) = next_timer_output(&s);
    assert_eq!(t, t2 + Duration::from_millis(12));
    assert_eq!(out.len(), 1);
    let g = &out[0];
    assert_eq!((g.seq, g.payload.len()), (iss, MSS as usize));
    assert_eq!(s.tcp_info(c).unwrap().tcpi_ca_state, TCP_CA_RECOVERY);
}

/// A SACK of the last byte only of a segment SACKs nothing (Linux's
/// tcp_match_skb_to_sack takes a segment whole or not at all): RACK has
/// no delivered segment to time the others by, so no reorder timer
/// resends the first one; the tail loss probe resends the last segment at
/// 2 * SRTT, and the connection stays out of recovery (packetdrill's
/// fast_retransmit/fr-4pkt-fack-last-byte.pkt).
#[test]
fn sack_of_a_segments_last_byte_only_sacks_nothing() {
    let (s, c, iss, t1) = flight(4 * MSS as usize, 4);
    let t2 = t1 + Duration::from_millis(10);
    sack(&s, t2, iss, &[(iss + 4 * MSS - 1, iss + 4 * MSS)]);
    assert!(recv_all(&s).is_empty());
    assert_eq!(s.tcp_info(c).unwrap().tcpi_sacked, 0);
    let (t, out) = next_timer_output(&s);
    assert_eq!(seqs(&out), vec![iss + 3 * MSS], "the probe, not segment 0");
    assert_eq!(t, t1 + Duration::from_millis(22), "2 * SRTT + 2 ms");
    assert_eq!(s.stats().tcp_loss_probes, 1);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!((ti.tcpi_lost, ti.tcpi_total_retrans), (0, 1));
    assert_ne!(ti.tcpi_ca_state, TCP_CA_RECOVERY);
}

/// An RTO in the middle of recovery (the retransmission lost too): every
/// segment not SACKed is resent in order under slow start, none the peer
/// SACKed (Linux's tcp_enter_loss keeps the SACK marks).
#[test]
fn rto_resends_only_what_is_not_sacked() {
    let (s, c, iss, t1) = flight(10_000, 10);
    // Segments 2-3 and 6-9 arrive; 0, 1, 4, 5 are lost.
    let t2 = t1 + Duration::from_millis(10);
    let sacked = [
        (iss + 2 * MSS, iss + 4 * MSS),
        (iss + 6 * MSS, iss + 10 * MSS),
    ];
    sack(&s, t2, iss, &[sacked[1], sacked[0]]);
    let fast = recv_all(&s);
    let ti = s.tcp_info(c).unwrap();
    let marks = (ti.tcpi_sacked, ti.tcpi_lost, ti.tcpi_retrans);
    assert_eq!((marks, ti.tcpi_ca_state), ((6, 4, 4), TCP_CA_RECOVERY));
    assert_eq!(
        seqs(&fast),
        vec![iss, iss + MSS, iss + 4 * MSS, iss + 5 * MSS],
        "fast retransmit of the holes in order"
    );
    // All of those are lost too: the RTO fires.
    let (rto, mut out) = next_timer_output(&s);
    assert_eq!(rto, t2 + Duration::from_millis(200), "the RTO");
    let mut now = rto;
    assert_eq!(s.tcp_info(c).unwrap().tcpi_ca_state, TCP_CA_LOSS);
    let mut resent = Vec::new();
    let mut ack = iss;
    for _ in 0..10 {
        if out.is_empty() {
            break;
        }
        for g in &out {
            resent.push(g.seq);
            if g.seq == ack {
                ack += g.payload.len() as u32;
            }
            if let Some(&(_, r)) = sacked.iter().find(|&&(l, r)| l <= ack && ack < r) {
                ack = r;
            }
        }
        now = now + Duration::from_millis(10);
        let blocks: Vec<_> = sacked.iter().copied().filter(|&(_, r)| r > ack).collect();
        sack(&s, now, ack, &blocks);
        out = recv_all(&s);
    }
    assert_eq!(
        resent.iter().map(|s| s - iss).collect::<Vec<_>>(),
        vec![0, MSS, 4 * MSS, 5 * MSS]
    );
    assert_eq!(ack, iss + 10 * MSS, "all acknowledged");
    assert_eq!(s.tcp_info(c).unwrap().tcpi_ca_state, TCP_CA_OPEN);
}

/// The last segments of a burst lost, nothing left to send: a tail loss
/// probe resends the last segment 2 * SRTT after the last send (not an
/// RTO later); its SACK then makes RACK resend the other lost one, and
/// the loss the probe repaired reduces the window once.
#[test]
fn tail_loss_probe_resends_the_last_segment_at_two_srtt() {
    let (s, c, iss, t1) = flight(10_000, 10);
    // Segments 0-7 acknowledged 10 ms later; 8 and 9 lost.
    let t2 = t1 + Duration::from_millis(10);
    sack(&s, t2, iss + 8 * MSS, &[]);
    assert!(recv_all(&s).is_empty());
    // SRTT 10 ms: the probe at 2 * SRTT + 2 ms after the ACK (Linux
    // re-arms it on every ACK that acknowledges data).
    let (pto, out) = next_timer_output(&s);
    assert_eq!(pto, t2 + Duration::from_millis(22));
    assert_eq!(out.len(), 1);
    let probe = &out[0];
    assert_eq!(
        (probe.seq, probe.payload.len()),
        (iss + 9 * MSS, MSS as usize)
    );
    assert_eq!(s.stats().tcp_loss_probes, 1);
    // Its SACK: RACK marks segment 8 lost (sent before the probe).
    let t3 = pto + Duration::from_millis(10);
    sack(&s, t3, iss + 8 * MSS, &[(iss + 9 * MSS, iss + 10 * MSS)]);
    let g = recv_all(&s);
    assert_eq!(seqs(&g), vec![iss + 8 * MSS], "RACK: the other lost one");
    sack(&s, t3 + Duration::from_millis(10), iss + 10 * MSS, &[]);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_ca_state, TCP_CA_OPEN);
    assert_eq!(ti.tcpi_total_retrans, 2);
    assert_eq!(ti.tcpi_unacked, 0);
}

/// A probe for a tail whose data arrived after all (the ACK was slow):
/// the peer reports the probe as a duplicate (D-SACK) and the window
/// stays as it was.
#[test]
fn tail_loss_probe_reported_duplicate_keeps_the_window() {
    let (s, c, iss, t1) = flight(4000, 4);
    let t2 = t1 + Duration::from_millis(10);
    sack(&s, t2, iss + 2 * MSS, &[]);
    let cwnd = s.tcp_info(c).unwrap().tcpi_snd_cwnd;
    let (pto, out) = next_timer_output(&s);
    assert_eq!(seqs(&out), vec![iss + 3 * MSS]);
    sack(&s, pto + Duration::from_millis(5), iss + 4 * MSS, &[]);
    sack(
        &s,
        pto + Duration::from_millis(10),
        iss + 4 * MSS,
        &[(iss + 3 * MSS, iss + 4 * MSS)],
    );
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_snd_cwnd, cwnd, "a needless probe costs no window");
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + (i >> 11)) as u8).collect()
}

/// Two stacks, 2% loss each way, 5 ms each way, 4 MiB: byte-exact; with
/// SACK recovery nearly every retransmission repairs a real loss (the
/// receiver sees almost no duplicates), and the transfer takes about half
/// the virtual time NewReno took (4.9 s against 9.4 s when this was
/// written).
#[test]
fn lossy_bulk_transfer_resends_only_losses() {
    let mut p = Pair::new(11);
    let (_l, c, s) = p.connected(80);
    p.params = LinkParams {
        loss: 0.02,
        delay: Duration::from_millis(5),
        ..Default::default()
    };
    let data = pattern(4 << 20);
    let before = (p.frames_a_to_b, p.a.stats().tcp_retransmits);
    let dups_before = p.b.stats().drop_out_of_window;
    let start = p.now;
    let got = p.transfer(true, c, s, &data);
    assert!(got == data, "bytes differ");
    let frames = p.frames_a_to_b - before.0;
    let rexmt = p.a.stats().tcp_retransmits - before.1;
    let dups = p.b.stats().drop_out_of_window - dups_before;
    let spent = p.now - start;
    assert!(
        rexmt * 100 <= frames * 3,
        "{rexmt} retransmissions in {frames} frames"
    );
    assert!(dups <= 3, "{dups} needless retransmissions");
    assert!(spent < Duration::from_secs(7), "4 MiB took {spent:?}");
}

/// packetdrill's sack/sack-shift-sacked-2-6-8-3-9-nofack: SACKs for
/// segments 3, 7 and 9 of 10 make RACK mark the six holes below lost at
/// once (only the first is resent: PRR allows what was delivered); a
/// later SACK of segment 4, never retransmitted and below SACKed data,
/// is reordering by 6 segments (TCP_INFO's tcpi_reordering) and unmarks
/// it; the cumulative ACKs then count the lost segments down to none.
#[test]
fn sacks_mark_holes_lost_and_late_sack_is_reordering() {
    let (s, c, iss, t1) = flight(10_000, 10);
    let r = |a: u32, b: u32| (iss + a - 1, iss + b - 1);
    let ms = Duration::from_millis;
    let info = |s: &Stack| s.tcp_info(c).unwrap();
    let mut t = t1 + ms(100);
    sack(&s, t, iss, &[r(2001, 3001)]);
    t = t + ms(1);
    sack(&s, t, iss, &[r(2001, 3001), r(6001, 7001)]);
    assert!(recv_all(&s).is_empty());
    t = t + ms(1);
    sack(&s, t, iss, &[r(2001, 3001), r(6001, 7001), r(8001, 9001)]);
    assert_eq!(seqs(&recv_all(&s)), vec![iss], "3 SACKed: fast recovery");
    assert_eq!(info(&s).tcpi_ca_state, TCP_CA_RECOVERY);
    assert_eq!(info(&s).tcpi_lost, 6);
    t = t + ms(7);
    sack(&s, t, iss, &[r(2001, 4001), r(6001, 7001), r(8001, 9001)]);
    assert_eq!(seqs(&recv_all(&s)), vec![iss + 1000]);
    assert_eq!((info(&s).tcpi_lost, info(&s).tcpi_reordering), (5, 6));
    t = t + ms(10);
    sack(&s, t, iss, &[r(2001, 4001), r(6001, 7001), r(8001, 10001)]);
    assert_eq!(info(&s).tcpi_lost, 5);
    for (ack, lost) in [(1001, 4), (4001, 3)] {
        t = t + ms(10);
        sack(&s, t, iss + ack - 1, &[r(6001, 7001), r(8001, 10001)]);
        assert_eq!(info(&s).tcpi_lost, lost, "at ack {ack}");
    }
    t = t + ms(100);
    recv_all(&s);
    sack(&s, t, iss + 10_000, &[]);
    let ti = info(&s);
    let counts = (
        ti.tcpi_unacked,
        ti.tcpi_sacked,
        ti.tcpi_lost,
        ti.tcpi_retrans,
    );
    assert_eq!((ti.tcpi_ca_state, counts), (TCP_CA_OPEN, (0, 0, 0, 0)));
}

/// packetdrill's fast_recovery/prr-ss-10pkt-lost-1: one loss in ten, the
/// pipe stays at ssthresh (7) through recovery, so each SACK of one
/// segment lets exactly one new segment go; the ACK of everything ends
/// recovery with cwnd = ssthresh.
#[test]
fn prr_sends_one_segment_per_segment_delivered_at_ssthresh() {
    let (s, c, iss, t1) = flight(10_000, 10);
    let ms = Duration::from_millis;
    let mut t = sack_three_above_a_hole(&s, iss, t1 + ms(110), ms(10));
    assert_eq!(seqs(&recv_all(&s)), vec![iss]);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(
        (ti.tcpi_ca_state, ti.tcpi_snd_cwnd, ti.tcpi_snd_ssthresh),
        (TCP_CA_RECOVERY, 7, 7)
    );
    assert_eq!(s.send(t, c, &[7; 7000], 0, None), Ok(7000));
    assert!(recv_all(&s).is_empty(), "the pipe is at cwnd");
    for n in 5..=10u32 {
        t = t + ms(10);
        sack(&s, t, iss, &[(iss + 1000, iss + n * 1000)]);
        let out = recv_all(&s);
        assert_eq!(seqs(&out), vec![iss + (n + 5) * 1000], "after SACK to {n}");
        assert!(!out[0].flags.contains(TcpFlags::PSH), "no PSH in recovery");
    }
    t = t + ms(20);
    sack(&s, t, iss + 10_000, &[]);
    let out = recv_all(&s);
    assert_eq!(seqs(&out), vec![iss + 16_000]);
    assert!(
        out[0].flags.contains(TcpFlags::PSH),
        "PSH on the write's tail"
    );
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(
        (ti.tcpi_ca_state, ti.tcpi_snd_cwnd, ti.tcpi_snd_ssthresh),
        (TCP_CA_OPEN, 7, 7)
    );
}

/// A fast recovery the peer shows was needless: the "lost" segment was
/// only late, and the ACK of everything reports the retransmission as a
/// duplicate (D-SACK). The window and ssthresh go back to what they were
/// (Linux's tcp_try_undo_dsack), and RACK now allows for reordering.
#[test]
fn dsack_of_every_retransmission_undoes_the_recovery() {
    let (s, c, iss, t1) = flight(10_000, 10);
    let gap = Duration::from_micros(100);
    let mut t = sack_three_above_a_hole(&s, iss, t1 + Duration::from_millis(10), gap);
    assert_eq!(seqs(&recv_all(&s)), vec![iss]);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(
        (ti.tcpi_ca_state, ti.tcpi_snd_cwnd, ti.tcpi_snd_ssthresh),
        (TCP_CA_RECOVERY, 7, 7)
    );
    // The original arrives, then the retransmission: D-SACK of 1:1001.
    t = t + Duration::from_millis(10);
    sack(&s, t, iss + 10_000, &[(iss, iss + 1000)]);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_ca_state, TCP_CA_OPEN);
    assert_eq!(ti.tcpi_snd_cwnd, 10, "the window from before the recovery");
    assert!(
        ti.tcpi_snd_ssthresh > 10,
        "ssthresh back to {}",
        ti.tcpi_snd_ssthresh
    );
}

/// Without the D-SACK the same recovery stands: cwnd ends at ssthresh.
#[test]
fn recovery_without_dsack_is_not_undone() {
    let (s, c, iss, t1) = flight(10_000, 10);
    let gap = Duration::from_micros(100);
    let mut t = sack_three_above_a_hole(&s, iss, t1 + Duration::from_millis(10), gap);
    recv_all(&s);
    t = t + Duration::from_millis(10);
    sack(&s, t, iss + 10_000, &[]);
    let ti = s.tcp_info(c).unwrap();
    assert_eq!(
        (ti.tcpi_ca_state, ti.tcpi_snd_cwnd, ti.tcpi_snd_ssthresh),
        (TCP_CA_OPEN, 7, 7)
    );
}

/// packetdrill's fast_recovery/prr-ss-ack-below-snd_una-cubic: three
/// holes in ten; the ACK that fills the first two lets PRR send three
/// retransmissions (slow-start reduction bound: SND.UNA advanced, nothing
/// newly lost; RACK.rtt is the RTT of the last segment acknowledged, so
/// the tail is not yet overdue); a late ACK below SND.UNA still counts for
/// its SACK block, and two more segments go.
#[test]
fn prr_uses_the_sack_of_an_ack_below_snd_una() {
    let (s, c, iss, t1) = flight(10_000, 10);
    let r = |a: u32, b: u32| (iss + a - 1, iss + b - 1);
    let ms = Duration::from_millis;
    let t = t1 + ms(10);
    sack(&s, t, iss, &[r(1001, 2001)]);
    sack(&s, t, iss, &[r(1001, 3001)]);
    sack(&s, t, iss, &[r(1001, 3001), r(8001, 9001)]);
    assert_eq!(seqs(&recv_all(&s)), vec![iss]);
    let t = t + ms(12);
    sack(&s, t, iss + 4000, &[r(8001, 9001)]);
    let out = recv_all(&s);
    assert_eq!(seqs(&out), vec![iss + 4000, iss + 5000, iss + 6000]);
    assert_eq!(s.send(t, c, &[7; 10_000], 0, None), Ok(10_000));
    assert!(recv_all(&s).is_empty());
    sack(&s, t + ms(2), iss + 3000, &[r(5001, 7001)]);
    assert_eq!(seqs(&recv_all(&s)), vec![iss + 7000, iss + 10_000]);
}
