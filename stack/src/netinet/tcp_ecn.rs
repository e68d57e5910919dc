//! Explicit Congestion Notification for TCP (RFC 3168, Linux's tcp_ecn
//! handling in tcp_input.c/tcp_output.c): negotiation in the handshake
//! under `net.ipv4.tcp_ecn` (1: ask and answer, 2, Linux's default: answer
//! only, 0: never), ECT(0) on new data, ECE echoed from a CE mark until
//! the peer's CWR, and the congestion window reduced once per window on
//! an ECE (Linux's CWR state), CWR on the next new data.
//!
//! Not kept: AccECN (`tcp_ecn` 3-5 are treated as 2), ECN through SYN
//! cookies (a cookie connection has none), and PRR during CWR (the
//! window is set to ssthresh at once, as RFC 3168 §6.1.2).

use crate::config::Sysctl;
use crate::netinet::tcp_recovery_var::CaState;
pub use crate::netinet::tcp_var::Ecn;
use crate::netinet::tcp_var::TcpCb;
use crate::wire::{TcpFlags, TcpRepr};

/// The IP ECN field's codepoints (RFC 3168 §5).
pub const ECN_NOT_ECT: u8 = 0;
pub const ECN_ECT1: u8 = 1;
pub const ECN_ECT0: u8 = 2;
pub const ECN_CE: u8 = 3;

/// The ECN field of a received IP packet (`packet` from its IP header
/// on): IPv4's TOS or IPv6's traffic class, low two bits.
pub fn ip_ecn(packet: &[u8]) -> u8 {
    match packet.first().map(|b| b >> 4) {
        Some(4) => packet.get(1).map_or(0, |b| b & 3),
        Some(6) => packet.get(1).map_or(0, |b| (b >> 4) & 3),
        _ => ECN_NOT_ECT,
    }
}

/// Does an active open ask for ECN (tcp_ecn_send_syn)? Only with
/// `tcp_ecn` 1.
pub fn ecn_asks(sys: &Sysctl) -> bool {
    sys.tcp_ecn == 1
}

/// Does a listener agree to the ECN a SYN asks for (tcp_ecn_create_request)?
/// The SYN carries ECE and CWR, is not itself ECT-marked, and `tcp_ecn` is
/// not 0.
pub fn ecn_syn_ok(sys: &Sysctl, syn: &TcpRepr, ip_ecn: u8) -> bool {
    sys.tcp_ecn != 0 && syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR) && ip_ecn == ECN_NOT_ECT
}

/// The flags our SYN carries (tcp_ecn_send_syn, tcp_ecn_clear_syn): ECE
/// and CWR on the first one when asking; a retransmitted SYN falls back to
/// no ECN (tcp_ecn_fallback), as a middlebox may drop ECN-setup SYNs.
pub fn ecn_syn_flags(tp: &mut TcpCb, sys: &Sysctl, retransmit: bool) -> TcpFlags {
    tp.ecn.ok = ecn_asks(sys) && !retransmit;
    if tp.ecn.ok {
        TcpFlags::ECE | TcpFlags::CWR
    } else {
        TcpFlags::empty()
    }
}

/// Our SYN-ACK's flag: ECE when the connection agreed (tcp_ecn_make_synack).
pub fn ecn_synack_flags(ok: bool) -> TcpFlags {
    if ok {
        TcpFlags::ECE
    } else {
        TcpFlags::empty()
    }
}

/// A SYN-ACK (or a simultaneous open's SYN) for our ECN-setup SYN: the
/// peer agreed if it set ECE and not CWR on a SYN-ACK, ECE and CWR on a
/// SYN (tcp_ecn_rcv_synack, tcp_ecn_rcv_syn).
pub fn ecn_rcv_syn(tp: &mut TcpCb, flags: TcpFlags) {
    let agreed = if flags.contains(TcpFlags::ACK) {
        flags.contains(TcpFlags::ECE) && !flags.contains(TcpFlags::CWR)
    } else {
        flags.contains(TcpFlags::ECE | TcpFlags::CWR)
    };
    tp.ecn.ok &= agreed;
}

/// A segment of a synchronized connection arrived with IP ECN field
/// `ip_ecn` (tcp_ecn_accept_cwr, then tcp_ecn_check_ce): the peer's CWR
/// ends our echo; CE on data starts it, and quick ACKs carry it at once.
pub fn ecn_rcv(tp: &mut TcpCb, seg: &TcpRepr, ip_ecn: u8) {
    if !tp.ecn.ok || seg.flags.contains(TcpFlags::SYN) {
        return;
    }
    if seg.flags.contains(TcpFlags::CWR) {
        tp.ecn.demand_cwr = false;
    }
    if ip_ecn == ECN_CE && !seg.payload.is_empty() && !tp.ecn.demand_cwr {
        tp.ecn.demand_cwr = true;
        tp.quickacks = tp.quickacks.max(2);
    }
}

/// The ACK step: a window reduction ends once SND.UNA reaches its high
/// sequence (tcp_end_cwnd_reduction); an ECE starts one when none is in
/// progress and no loss recovery either (tcp_enter_cwr): ssthresh from the
/// congestion control, the window down to it, CWR queued.
pub fn ecn_ack(tp: &mut TcpCb, seg: &TcpRepr) {
    if !tp.ecn.ok {
        return;
    }
    if let Some(high) = tp.ecn.cwr_high {
        if !tp.snd_una.lt(high) {
            tp.ecn.cwr_high = None;
        }
    }
    let ece = seg.flags.contains(TcpFlags::ECE) && !seg.flags.contains(TcpFlags::SYN);
    let recovering = tp.rec.state != CaState::Open || tp.recover.is_some();
    if !ece || tp.ecn.cwr_high.is_some() || recovering {
        return;
    }
    let mss = tp.t_maxseg.max(1);
    let w = (tp.cwnd / mss) as u32;
    tp.ssthresh = (tp.cc.ssthresh(w) as usize * mss).max(2 * mss);
    tp.cwnd = tp.cwnd.min(tp.ssthresh).max(mss);
    tp.ecn.queue_cwr = true;
    tp.ecn.cwr_high = Some(tp.snd_max);
}

/// Is the window being reduced for an ECE (Linux's TCP_CA_CWR)? The
/// window does not grow meanwhile.
pub fn ecn_in_cwr(tp: &TcpCb) -> bool {
    tp.ecn.cwr_high.is_some()
}

/// An outgoing segment of a synchronized connection (tcp_ecn_send): new
/// data is ECT(0) and carries a queued CWR; a pure ACK or a
/// retransmission is not ECT; every segment echoes ECE while a CE mark
/// awaits the peer's CWR. Returns the flags to add and the ECN field.
pub fn ecn_send(tp: &mut TcpCb, new_data: bool) -> (TcpFlags, u8) {
    if !tp.ecn.ok {
        return (TcpFlags::empty(), ECN_NOT_ECT);
    }
    let mut flags = TcpFlags::empty();
    let mut field = ECN_NOT_ECT;
    if new_data {
        field = ECN_ECT0;
        if std::mem::take(&mut tp.ecn.queue_cwr) {
            flags |= TcpFlags::CWR;
        }
    }
    if tp.ecn.demand_cwr {
        flags |= TcpFlags::ECE;
    }
    (flags, field)
}

/// `tos` (IPv4 TOS or IPv6 traffic class) with its ECN field set to `field`.
pub fn with_ecn(tos: u8, field: u8) -> u8 {
    (tos & !3) | (field & 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ecn_reads_both_families() {
        // IPv4: TOS 0x03 (CE); IPv6: traffic class 0x02 (ECT(0)).
        assert_eq!(ip_ecn(&[0x45, 0x03]), ECN_CE);
        assert_eq!(ip_ecn(&[0x45, 0xb8]), ECN_NOT_ECT);
        assert_eq!(ip_ecn(&[0x60, 0x20, 0, 0]), ECN_ECT0);
        assert_eq!(ip_ecn(&[0x60, 0x10, 0, 0]), ECN_ECT1);
        assert_eq!(ip_ecn(&[]), ECN_NOT_ECT);
    }

    #[test]
    fn with_ecn_keeps_the_dscp() {
        assert_eq!(with_ecn(0xb8, ECN_ECT0), 0xba);
        assert_eq!(with_ecn(0xbb, ECN_NOT_ECT), 0xb8);
    }
}
