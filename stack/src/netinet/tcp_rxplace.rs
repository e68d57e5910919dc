//! Reading the device straight into a receive buffer. A bulk receiver
//! gets GSO super-frames of one connection back to back; copying each
//! one's payload from the read buffer into the socket's receive ring was
//! a third copy of every byte (the kernel's into our read buffer, ours
//! into the ring, the application's out of it). So the frame after a
//! super-frame is read (one `readv`) as its predicted headers into a
//! small buffer and its payload straight into the free space after the
//! bytes that connection's ring holds, under the socket's lock. When the
//! headers say it is indeed that connection's next in-order segment, TCP
//! input takes it there (`SegIn::placed`: committed where it lies);
//! otherwise (another connection, other headers, a longer frame) the
//! frame is put back together in the read buffer and taken as any other.
//! IPv4 with trusted checksums only (the kernel's GSO frames).

use crate::api::SocketHandle;
use crate::kern::socket::{SoState, SoUrg, Socket};
use crate::kern::sotable::lock_live;
use crate::netinet::inet::{InetCx, PlaceHint};
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_ecn::{ecn_rcv, ip_ecn};
use crate::netinet::tcp_input::{tcp_input_conn, SegIn};
use crate::netinet::tcp_subr::tcp_timer_sync;
use crate::netinet::tcp_var::TcpState;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::virtio_net::{VirtioNetHdr, HDR_LEN};
use crate::wire::{self, Ipv4Packet, TcpFlags, TcpRepr};

/// A segment with more payload than this (a super-frame: more than one
/// MTU) makes its connection the one the next frame is read for.
pub(crate) const PLACE_MIN: usize = 1500;

/// Stands for a placed payload in `TcpRepr::payload` (its length only).
static PLACED: [u8; 65536] = [0; 65536];

/// What `tcp_read_placed` did with the frame `read` gave.
pub(crate) enum ReadPlaced {
    /// `read` returned this (<= 0): nothing was read.
    Nothing(isize),
    /// Taken by TCP input where it was read.
    Taken,
    /// The frame, `n` bytes, is whole at the start of the read buffer:
    /// the caller takes it as any other.
    Frame(usize),
}

/// After TCP input took an in-order segment of a read batch: a large one
/// makes its connection the next read's guess.
pub(crate) fn tcp_place_note(cx: &impl InetCx, h: SocketHandle, ip_packet: usize, payload: usize) {
    if payload <= PLACE_MIN {
        return;
    }
    let hdr = HDR_LEN + ip_packet - payload;
    if let (Ok(hdr), Ok(len)) = (u16::try_from(hdr), u16::try_from(payload)) {
        *cx.inet().rx_place.lock() = Some(PlaceHint { h, hdr, len });
    }
}

/// Read one frame with `read` (a readv into its three slices in order;
/// its length, or <= 0 for none), placing the payload straight into the
/// receive buffer of the guessed connection when one is set and can take
/// it. `buf` holds the largest frame.
pub(crate) fn tcp_read_placed<C: InetCx>(
    cx: &C,
    now: Instant,
    batch: bool,
    buf: &mut [u8],
    read: impl FnOnce(&mut [u8], &mut [u8], &mut [u8]) -> isize,
) -> ReadPlaced {
    let hint = *cx.inet().rx_place.lock();
    let sref = hint.and_then(|p| cx.sockets().lookup(p.h).ok());
    let mut so = sref.as_ref().and_then(lock_live);
    let hdr = hint.map_or(0, |p| usize::from(p.hdr));
    let want = hint.map_or(0, |p| usize::from(p.len));
    let Some(so) = so.as_mut().filter(|so| placeable(so) && hdr < buf.len()) else {
        let n = read(buf, &mut [], &mut []);
        return if n > 0 {
            ReadPlaced::Frame(n as usize)
        } else {
            ReadPlaced::Nothing(n)
        };
    };
    let room = so.so_rcv.ring_mut().tail_room(PLACED.len());
    if room.len() < want {
        let n = read(buf, &mut [], &mut []);
        return if n > 0 {
            ReadPlaced::Frame(n as usize)
        } else {
            ReadPlaced::Nothing(n)
        };
    }
    let room_len = room.len();
    let (head, tail) = buf.split_at_mut(hdr);
    let n = read(head, room, tail);
    if n <= 0 {
        return ReadPlaced::Nothing(n);
    }
    let n = n as usize;
    let placed = n.saturating_sub(hdr).min(room_len);
    let spilled = n.saturating_sub(hdr + placed);
    if spilled == 0 && placed > 0 {
        if let Some((seg, gso)) = next_segment(so, &buf[..hdr], n) {
            let seg = TcpRepr {
                payload: &PLACED[..placed],
                ..seg
            };
            let stats = cx.stats();
            Stats::bump(&stats.frames_in);
            Stats::bump(&stats.csum_trusted_in);
            Stats::bump(&stats.tcp_segs_in);
            Stats::bump(&stats.tcp_rx_placed);
            if gso {
                Stats::bump(&stats.gso_frames_in);
            }
            if let Some(tp) = so.so_pcb.tcp_mut() {
                ecn_rcv(tp, &seg, ip_ecn(&buf[HDR_LEN..hdr]));
            }
            let how = SegIn {
                batch,
                placed: true,
            };
            tcp_input_conn(cx, now, so, &seg, how);
            tcp_timer_sync(cx, so);
            return ReadPlaced::Taken;
        }
    }
    // Not what was guessed: the frame together again in `buf`, the
    // spilled tail after the bytes the ring took (which stay there as
    // free space).
    Stats::bump(&cx.stats().tcp_rx_misplaced);
    buf.copy_within(hdr..hdr + spilled, hdr + placed);
    let ring = so.so_rcv.ring_mut();
    let room = ring.tail_room(room_len);
    buf[hdr..hdr + placed].copy_from_slice(&room[..placed]);
    ReadPlaced::Frame(n)
}

/// Can the socket's receive buffer take a frame in place: an
/// established connection with nothing out of order, no urgent data, no
/// filter, and a reader.
fn placeable(so: &Socket) -> bool {
    so.so_filter.is_none()
        && so.so_urg == SoUrg::None
        && !so.so_state.has(SoState::NOFDREF)
        && !so.sb_state.cantrcvmore
        && so
            .so_pcb
            .tcp()
            .is_some_and(|tp| tp.t_state == TcpState::Established && tp.reass.is_empty())
}

/// The segment whose headers are `head` (virtio_net_hdr, IPv4, TCP), `n`
/// bytes in all, if it is the connection's next in-order segment with a
/// trusted checksum and nothing but data and an ACK: its header (the
/// payload left empty), and whether it is a super-frame.
fn next_segment<'a>(so: &Socket, head: &'a [u8], n: usize) -> Option<(TcpRepr<'a>, bool)> {
    let rx = VirtioNetHdr::parse(head).and_then(|h| h.rx_meta()).ok()?;
    if !rx.csum_ok || rx.udp_gso_size != 0 {
        return None;
    }
    let ip = Ipv4Packet::new_unchecked(head.get(HDR_LEN..)?);
    let ip_bytes = head.len() - HDR_LEN;
    if ip_bytes < wire::ipv4::HEADER_LEN
        || ip.version() != 4
        || ip.header_len() != wire::ipv4::HEADER_LEN
        || ip.total_len() != n - HDR_LEN
        || ip.more_frags()
        || ip.frag_offset() != 0
        || ip.protocol() != wire::IP_PROTO_TCP
        || !ip.verify_checksum()
    {
        return None;
    }
    let tcp = &head[HDR_LEN + wire::ipv4::HEADER_LEN..];
    let seg = TcpRepr::parse_unverified(tcp).ok()?;
    let tp = so.so_pcb.tcp()?;
    let inp = so.so_pcb.inp();
    let from = std::net::SocketAddr::new(ip.src_addr().into(), seg.src_port);
    let to = std::net::SocketAddr::new(ip.dst_addr().into(), seg.dst_port);
    let plain = seg.flags.0 & !(TcpFlags::ACK.0 | TcpFlags::PSH.0) == 0;
    (seg.payload.is_empty()
        && plain
        && seg.flags.contains(TcpFlags::ACK)
        && from == inp.foreign()
        && to == inp.local()
        && seg.seq == tp.rcv_nxt.0)
        .then_some((seg, rx.gso))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::trace::{accepted_with, peer_data, recv_all, t0, Seg, ME};
    use crate::wire::virtio_net::{F_DATA_VALID, GSO_TCPV4};
    use crate::wire::TcpOptions;
    use crate::{Config, Stack};

    /// The frame as the device gives it: virtio_net_hdr (a GSO super-frame
    /// whose checksum the kernel vouches for), then the IPv4 packet.
    fn vnet(seg: &Seg) -> Vec<u8> {
        let h = VirtioNetHdr {
            flags: F_DATA_VALID,
            gso_type: GSO_TCPV4,
            hdr_len: 40,
            gso_size: 1448,
            csum_start: 0,
            csum_offset: 0,
        };
        let mut f = h.emit().to_vec();
        f.extend_from_slice(&seg.to_frame());
        f
    }

    /// A readv of `frame` into three slices.
    fn readv(frame: &[u8]) -> impl FnOnce(&mut [u8], &mut [u8], &mut [u8]) -> isize + '_ {
        move |a: &mut [u8], b: &mut [u8], c: &mut [u8]| {
            let mut rest = frame;
            for s in [a, b, c] {
                let k = rest.len().min(s.len());
                s[..k].copy_from_slice(&rest[..k]);
                rest = &rest[k..];
            }
            assert!(rest.is_empty(), "a frame longer than the buffers");
            frame.len() as isize
        }
    }

    fn data(seq: u32, ack: u32, from: usize, n: usize) -> Seg {
        peer_data(seq, ack, from, n)
    }

    fn read(s: &Stack, frame: &[u8]) -> isize {
        let mut buf = vec![0u8; 65536 + HDR_LEN];
        let n = s.read_vnet_frame(t0(), true, &mut buf, readv(frame));
        s.end_rx_batch(t0());
        s.check_invariants();
        n
    }

    fn placed_count(s: &Stack) -> u64 {
        s.stats().tcp_rx_placed
    }

    /// After a super-frame, the connection's next segment is read into its
    /// receive buffer (counted, taken in order, acknowledged); segments
    /// that are not what was guessed (out of order, another header
    /// length, more than the buffer's room) come through the read buffer;
    /// every byte reaches the reader in order either way.
    #[test]
    fn the_next_segment_is_read_in_place_and_anything_else_as_before() {
        let s = Stack::new(Config::new(ME, 24));
        let (c, iss) = accepted_with(&s, TcpOptions::default());
        let k = 20_000;
        // The first super-frame goes the usual way and sets the guess.
        s.handle_vnet_frame_batch(t0(), &vnet(&data(1, iss, 0, k)), true);
        s.end_rx_batch(t0());
        assert!(s.inet().rx_place.lock().is_some());
        recv_all(&s);
        // In place: taken (1 returned), acknowledged at the batch's end.
        let before = placed_count(&s);
        assert_eq!(read(&s, &vnet(&data(1 + k as u32, iss, k, k))), 1);
        assert_eq!(placed_count(&s), before + 1);
        let acks = recv_all(&s);
        assert_eq!(acks.last().map(|a| a.ack), Some(1 + 2 * k as u32));
        // Out of order: through the read buffer (its length returned),
        // answered by a duplicate ACK.
        let ooo = vnet(&data(1 + 3 * k as u32, iss, 3 * k, 100));
        assert_eq!(read(&s, &ooo), ooo.len() as isize);
        assert_eq!(recv_all(&s).last().map(|a| a.ack), Some(1 + 2 * k as u32));
        let mut out = vec![0u8; 4 * k];
        let got = s.recv(t0(), c, &mut out, 0).unwrap().copied;
        assert_eq!(got, 2 * k);
        let want: Vec<u8> = (0..2 * k).map(|i| (i % 251) as u8).collect();
        assert_eq!(&out[..got], &want[..]);
    }

    /// A guess that is wrong (timestamps make the header 12 bytes longer,
    /// or the payload runs past the room left in one piece before the
    /// ring wraps) puts the frame back together: the reader sees the right
    /// bytes, in order.
    #[test]
    fn a_wrong_guess_puts_the_frame_back_together() {
        let s = Stack::new(Config::new(ME, 24));
        let syn = TcpOptions {
            window_scale: Some(7),
            ..TcpOptions::default()
        };
        let (c, iss) = accepted_with(&s, syn);
        let ts = TcpOptions {
            timestamp: Some((5, 0)),
            ..TcpOptions::default()
        };
        let seg =
            |from: usize, n: usize| vnet(&data(1 + from as u32, iss, from, n).with_options(ts));
        s.handle_vnet_frame_batch(t0(), &vnet(&data(1, iss, 0, 20_000)), true);
        s.end_rx_batch(t0());
        // The guess is 12 bytes short.
        let longer = seg(20_000, 20_000);
        assert_eq!(read(&s, &longer), longer.len() as isize);
        assert_eq!(read(&s, &seg(40_000, 30_000)), 1, "now guessed right");
        // The reader takes 60,000: the ring (131,072) holds 10,000 from
        // 60,000 on, room for 61,072 before it wraps.
        let mut out = vec![0u8; 200_000];
        let mut got = s.recv(t0(), c, &mut out[..60_000], 0).unwrap().copied;
        assert_eq!(got, 60_000);
        recv_all(&s);
        assert_eq!(read(&s, &seg(70_000, 20_000)), 1);
        // 41,072 left before the wrap: a 50,000-byte payload spills.
        let spills = seg(90_000, 50_000);
        assert_eq!(read(&s, &spills), spills.len() as isize);
        assert_eq!(recv_all(&s).last().map(|a| a.ack), Some(1 + 140_000));
        got += s.recv(t0(), c, &mut out[got..], 0).unwrap().copied;
        assert_eq!(got, 140_000);
        let want: Vec<u8> = (0..got).map(|i| (i % 251) as u8).collect();
        assert_eq!(&out[..got], &want[..]);
    }
}
