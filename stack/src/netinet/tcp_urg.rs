//! TCP urgent data ("out of band"), as Linux has it: send(MSG_OOB) marks
//! the last byte of the send as urgent (snd_up, carried by URG and the
//! urgent pointer of every segment before it, RFC 6093's one byte);
//! a receiver learns of the mark from the pointer (tcp_check_urg), takes
//! the byte once it arrives (tcp_urg), hands it to recv(MSG_OOB)
//! (tcp_recv_urg) and, without SO_OOBINLINE, reads the stream around it.
//! The byte stays in the receive buffer (`Socket::so_oobmark` says
//! where); the socket layer's stream receive stops at the mark and skips
//! it (kern/uipc.rs). The pointer is read as Linux reads it by default
//! (net.ipv4.tcp_stdurg 0: it points after the urgent byte). SIGURG is
//! not raised: the stack knows no processes.

use crate::api::RecvMeta;
use crate::errno::Errno;
use crate::kern::socket::{SoUrg, Socket};
use crate::linux::{MSG_PEEK, MSG_TRUNC};
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::{TcpCb, TcpState};
use crate::wire::{TcpFlags, TcpRepr};

/// The sequence number of the next byte the application reads (Linux's
/// copied_seq): everything before RCV.NXT not yet read is in the buffer.
fn copied_seq(tp: &TcpCb, unread: usize) -> Seq {
    Seq(tp.rcv_nxt.0.wrapping_sub(unread as u32))
}

/// A segment's URG flag and pointer (Linux's tcp_check_urg), before its
/// text is queued: a newer mark replaces the one held; an older urgent
/// byte sitting unread at the read point is dropped (as Linux steps
/// copied_seq over it), so the reader never sees it as data.
pub(crate) fn tcp_check_urg(so: &mut Socket, seg: &TcpRepr) {
    if !seg.flags.contains(TcpFlags::URG) {
        return;
    }
    let inline = so.so_options.oobinline;
    let unread = so.so_rcv.ring().len();
    let Some(tp) = so.so_pcb.tcp() else { return };
    let ptr = Seq(seg.seq) + (seg.urgent as usize).saturating_sub(1);
    let mut copied = copied_seq(tp, unread);
    let rcv_nxt = tp.rcv_nxt;
    // Urgent data already read past, or a pointer into data already
    // received (not replayed), or not newer than the mark held.
    if copied.gt(ptr) || ptr.lt(rcv_nxt) || (so.so_urg != SoUrg::None && !ptr.gt(tp.rcv_up)) {
        return;
    }
    if so.so_urg != SoUrg::None && so.so_oobmark == 0 && !inline && unread > 0 {
        so.so_rcv.ring_mut().consume(1);
        copied += 1;
    }
    so.so_urg = SoUrg::NotYet;
    so.so_oobmark = ptr - copied;
    if let Some(tp) = so.so_pcb.tcp_mut() {
        tp.rcv_up = ptr;
    }
}

/// After a segment's text is queued (Linux's tcp_urg): the awaited
/// urgent byte, if it is now in the buffer, becomes readable by MSG_OOB.
pub(crate) fn tcp_urg_arrived(so: &mut Socket) {
    if so.so_urg != SoUrg::NotYet || so.so_oobmark >= so.so_rcv.ring().len() {
        return;
    }
    let mut b = [0u8; 1];
    so.so_rcv.ring().read_at(so.so_oobmark, &mut b);
    so.so_urg = SoUrg::Valid(b[0]);
}

/// FIONREAD / SIOCINQ (Linux's tcp_inq): while an urgent byte that has
/// arrived is still ahead of the reader (without SO_OOBINLINE), the bytes
/// before the mark, so 0 at the mark, read or not; else every unread byte.
pub(crate) fn tcp_inq(so: &Socket) -> usize {
    let unread = so.so_rcv.ring().len();
    match so.so_urg {
        SoUrg::Valid(_) | SoUrg::Read if !so.so_options.oobinline => so.so_oobmark.min(unread),
        _ => unread,
    }
}

/// recv(MSG_OOB) (Linux's tcp_recv_urg): the urgent byte, once; EINVAL
/// with SO_OOBINLINE, with no mark or after the byte was read; 0 at the
/// end of the stream; EAGAIN while it has not arrived (never blocks).
pub(crate) fn tcp_recv_urg(so: &mut Socket, buf: &mut [u8], flags: i32) -> Result<RecvMeta, Errno> {
    if so.so_options.oobinline || matches!(so.so_urg, SoUrg::None | SoUrg::Read) {
        return Err(Errno::EINVAL);
    }
    let closed = so
        .so_pcb
        .tcp()
        .is_none_or(|tp| tp.t_state == TcpState::Closed);
    if let SoUrg::Valid(c) = so.so_urg {
        if flags & MSG_PEEK == 0 {
            so.so_urg = SoUrg::Read;
        }
        let n = usize::from(!buf.is_empty());
        if n == 1 && flags & MSG_TRUNC == 0 {
            buf[0] = c;
        }
        return Ok(RecvMeta {
            copied: n,
            full_len: 1,
            from: None,
            info: None,
        });
    }
    if closed || so.sb_state.cantrcvmore || so.sb_state.fin_received {
        return Ok(RecvMeta::EOF);
    }
    Err(Errno::EAGAIN)
}

/// send(MSG_OOB) queued bytes up to `end` (the sequence number after the
/// buffer's last byte): they end urgent (Linux's tcp_mark_urg).
pub(crate) fn tcp_mark_urg(tp: &mut TcpCb, end: Seq) {
    tp.rare_mut().snd_up = Some(end);
}

/// Is the connection in urgent mode (urgent data not yet acknowledged)?
/// Leaves it once SND.UNA passes the mark (Linux's tcp_urg_mode with
/// tcp_clean_rtx_queue's reset of snd_up).
pub(crate) fn tcp_urg_mode(tp: &mut TcpCb) -> bool {
    match tp.snd_up() {
        Some(up) if up.gt(tp.snd_una) => true,
        Some(_) => {
            if let Some(r) = tp.rare.as_mut() {
                r.snd_up = None;
            }
            tp.rare_release();
            false
        }
        None => false,
    }
}

/// URG and the urgent pointer of a segment starting at `seq` (Linux's
/// __tcp_transmit_skb): set on every segment before the mark, pointing
/// after the last urgent byte, or 0xFFFF when the mark is further away.
pub(crate) fn tcp_urg_field(tp: &mut TcpCb, seq: Seq) -> Option<u16> {
    if !tcp_urg_mode(tp) {
        return None;
    }
    let up = tp.snd_up()?;
    if !seq.lt(up) {
        return None;
    }
    let d = up.diff(seq);
    if d < 0x10000 {
        Some(d as u16)
    } else if (seq + 0xffff).gt(tp.snd_nxt) {
        Some(0xffff)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::linux::*;
    use crate::testing::pair::Pair;
    use crate::Errno;

    #[test]
    fn urgent_byte_is_marked_read_out_of_band_and_skipped() {
        let mut p = Pair::new(41);
        let (_l, c, s) = p.connected(80);
        p.b.send(p.now, s, b"hello", 0, None).unwrap();
        p.b.send(p.now, s, b"xyz", MSG_OOB, None).unwrap();
        p.b.send(p.now, s, b"tail", 0, None).unwrap();
        p.drive();
        assert!(p.a.sopoll(c).contains(crate::Readiness::PRI), "POLLPRI");
        let mut buf = [0u8; 16];
        let m = p.a.recv(p.now, c, &mut buf, 0).unwrap();
        assert_eq!(&buf[..m.copied], b"helloxy", "a read stops at the mark");
        let m = p.a.recv(p.now, c, &mut buf, MSG_OOB | MSG_PEEK).unwrap();
        assert_eq!(&buf[..m.copied], b"z");
        let m = p.a.recv(p.now, c, &mut buf, MSG_OOB).unwrap();
        assert_eq!(&buf[..m.copied], b"z");
        let r = p.a.recv(p.now, c, &mut buf, MSG_OOB);
        assert_eq!(r.err(), Some(Errno::EINVAL), "read once");
        assert!(!p.a.sopoll(c).contains(crate::Readiness::PRI));
        let m = p.a.recv(p.now, c, &mut buf, 0).unwrap();
        assert_eq!(&buf[..m.copied], b"tail", "the urgent byte is skipped");
        p.a.check_invariants();
    }

    #[test]
    fn urgent_pointer_on_the_wire_points_after_the_last_byte() {
        let mut tp = crate::netinet::tcp_var::TcpCb::new(crate::netinet::in_pcb::Inpcb::new(64));
        let una = tp.snd_una;
        tp.snd_nxt = una + 10;
        super::tcp_mark_urg(&mut tp, una + 3);
        assert_eq!(super::tcp_urg_field(&mut tp, una), Some(3));
        assert_eq!(
            super::tcp_urg_field(&mut tp, una + 3),
            None,
            "past the mark"
        );
        tp.snd_una = una + 3;
        assert_eq!(super::tcp_urg_field(&mut tp, una + 3), None);
        assert_eq!(tp.snd_up(), None, "urgent mode ends once acknowledged");
    }
}
