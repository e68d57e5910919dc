//! The socket error queue (Linux's sk_error_queue, read with
//! MSG_ERRQUEUE): MSG_ZEROCOPY completions, SO_TIMESTAMPING TX timestamps
//! (netinet/tcp_tstamp.rs), and under IP_RECVERR / IPV6_RECVERR the ICMP
//! errors about what the socket sent and its local errors; each read as
//! a `sock_extended_err` (origin SO_EE_ORIGIN_ZEROCOPY, _TIMESTAMPING,
//! _ICMP, _ICMP6 or _LOCAL) with the offender's address, the timestamp,
//! the original destination and what the error quoted of the payload.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use crate::errno::Errno;
use crate::linux::*;
use crate::time::Instant;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoErr {
    /// MSG_ZEROCOPY sends [lo, hi] completed (by copying).
    Zerocopy(u32, u32),
    /// An ICMP or local error.
    Ext(Box<ExtErr>),
    /// A TX timestamp: its stage (SCM_TSTAMP_SCHED, _SND, _ACK), the key
    /// (SOF_TIMESTAMPING_OPT_ID), when, and whether the entry carries no
    /// copy of the packet (SOF_TIMESTAMPING_OPT_TSONLY; without it the
    /// packet's bytes are not kept here and the entry reads as truncated).
    Tstamp {
        stage: u32,
        key: u32,
        at: Instant,
        tsonly: bool,
    },
}

/// An ICMP or local error as `sock_extended_err` and its companions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtErr {
    pub errno: Errno,
    /// SO_EE_ORIGIN_LOCAL, _ICMP or _ICMP6.
    pub origin: u8,
    pub ee_type: u8,
    pub code: u8,
    /// ee_info: the MTU for "too big" errors, else 0.
    pub info: u32,
    /// Who sent the ICMP error (none for a local error), in the
    /// socket's family (v4-mapped on an AF_INET6 socket).
    pub offender: Option<IpAddr>,
    /// The original datagram's destination (recvmsg's msg_name).
    pub dest: SocketAddr,
    /// What the error quoted of the original payload.
    pub payload: Vec<u8>,
}

impl IcmpErr<'_> {
    /// The error queue's entry for this error meaning `errno`, the
    /// offender and the original destination as the socket's user sees
    /// them (v4-mapped on an AF_INET6 socket).
    pub fn to_ext(&self, errno: Errno, offender: IpAddr, dest: SocketAddr) -> ExtErr {
        ExtErr {
            errno,
            origin: self.origin,
            ee_type: self.ee_type,
            code: self.code,
            info: self.info,
            offender: Some(offender),
            dest,
            payload: self.payload.to_vec(),
        }
    }
}

impl From<ExtErr> for SoErr {
    fn from(e: ExtErr) -> SoErr {
        SoErr::Ext(Box::new(e))
    }
}

/// What an ICMP error said, for the transport's ctlinput.
#[derive(Debug, Clone, Copy)]
pub struct IcmpErr<'a> {
    /// SO_EE_ORIGIN_ICMP or SO_EE_ORIGIN_ICMP6.
    pub origin: u8,
    pub ee_type: u8,
    pub code: u8,
    /// The MTU of a "too big" error, else 0.
    pub info: u32,
    /// The ICMP message's source.
    pub offender: IpAddr,
    /// What it quoted after the transport header.
    pub payload: &'a [u8],
}

pub use crate::linux::{
    SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6, SO_EE_ORIGIN_LOCAL, SO_EE_ORIGIN_TIMESTAMPING,
    SO_EE_ORIGIN_ZEROCOPY,
};

/// Bytes of `sock_extended_err`, of the offender address that follows
/// it in what `encode` writes (a sockaddr_in6's room), and of the
/// timestamp after that (microseconds of the stack's clock, a TX
/// timestamp's only; SCM_TIMESTAMPING's time).
pub const EE_LEN: usize = 16;
pub const OFFENDER_LEN: usize = 28;
pub const STAMP_LEN: usize = 8;
/// What `encode` writes before the payload.
pub const HEAD_LEN: usize = EE_LEN + OFFENDER_LEN + STAMP_LEN;

/// An entry's cost against the receive buffer (Linux charges the skb's
/// truesize; this is the payload and a header's worth). A zerocopy
/// completion extends a queued range and is not charged (Linux reuses the
/// send's own skb).
fn cost(e: &SoErr) -> usize {
    match e {
        SoErr::Ext(e) => e.payload.len() + 256,
        SoErr::Tstamp { .. } => 256,
        SoErr::Zerocopy(..) => 0,
    }
}

/// Linux's `sock_queue_err_skb`: queue `e` on `q` unless the error queue
/// would take more than the receive buffer, `rcvbuf` bytes (then it is
/// lost, as Linux's ENOMEM).
pub fn sock_queue_err(q: &mut Option<Box<VecDeque<SoErr>>>, rcvbuf: usize, e: impl Into<SoErr>) {
    let e = e.into();
    let used: usize = q.iter().flat_map(|q| q.iter()).map(cost).sum();
    if used + cost(&e) >= rcvbuf {
        return;
    }
    q.get_or_insert_with(Default::default).push_back(e);
}

fn is_icmp(e: &SoErr) -> bool {
    matches!(e, SoErr::Ext(x) if icmp_origin(x))
}

fn icmp_origin(x: &ExtErr) -> bool {
    x.origin == SO_EE_ORIGIN_ICMP || x.origin == SO_EE_ORIGIN_ICMP6
}

/// Linux's `sock_dequeue_err_skb`: the first entry; the pending error
/// becomes the next ICMP entry's, or none when the one taken was an ICMP
/// error and no ICMP error follows.
pub fn sock_dequeue_err(q: &mut VecDeque<SoErr>, so_error: &mut Option<Errno>) -> Option<SoErr> {
    let e = q.pop_front()?;
    let next = match q.front() {
        Some(SoErr::Ext(n)) if icmp_origin(n) => Some(n.errno),
        _ => None,
    };
    if next.is_some() || is_icmp(&e) {
        *so_error = next;
    }
    Some(e)
}

/// A socket address in Linux's layout (sockaddr_in or sockaddr_in6).
fn sockaddr(ip: IpAddr, out: &mut [u8; OFFENDER_LEN]) {
    match ip {
        IpAddr::V4(a) => {
            out[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            out[4..8].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out[..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            out[8..24].copy_from_slice(&a.octets());
        }
    }
}

/// What a MSG_ERRQUEUE receive writes to `buf`: the `sock_extended_err`,
/// the offender's sockaddr (zeroed when none) in OFFENDER_LEN bytes, the
/// timestamp (zero when none) in STAMP_LEN bytes, then the quoted
/// payload, cut to `buf`. Returns (bytes written, the payload's full
/// length, the original destination). A TX timestamp without
/// OPT_TSONLY stands for a packet whose bytes are not kept: its payload
/// reads as one byte not returned (MSG_TRUNC, as Linux's with a short
/// buffer).
pub fn encode(e: &SoErr, buf: &mut [u8]) -> (usize, usize, Option<SocketAddr>) {
    let mut head = [0u8; HEAD_LEN];
    let mut full = None;
    let (payload, dest): (&[u8], _) = match e {
        SoErr::Zerocopy(lo, hi) => {
            head[4] = SO_EE_ORIGIN_ZEROCOPY;
            head[6] = SO_EE_CODE_ZEROCOPY_COPIED;
            head[8..12].copy_from_slice(&lo.to_ne_bytes());
            head[12..16].copy_from_slice(&hi.to_ne_bytes());
            (&[], None)
        }
        SoErr::Ext(x) => {
            head[..4].copy_from_slice(&(x.errno.0 as u32).to_ne_bytes());
            head[4] = x.origin;
            head[5] = x.ee_type;
            head[6] = x.code;
            head[8..12].copy_from_slice(&x.info.to_ne_bytes());
            if let Some(o) = x.offender {
                let mut a = [0u8; OFFENDER_LEN];
                sockaddr(o, &mut a);
                head[EE_LEN..EE_LEN + OFFENDER_LEN].copy_from_slice(&a);
            }
            (&x.payload, Some(x.dest))
        }
        SoErr::Tstamp {
            stage,
            key,
            at,
            tsonly,
        } => {
            head[..4].copy_from_slice(&(Errno::ENOMSG.0 as u32).to_ne_bytes());
            head[4] = SO_EE_ORIGIN_TIMESTAMPING;
            head[8..12].copy_from_slice(&stage.to_ne_bytes());
            head[12..16].copy_from_slice(&key.to_ne_bytes());
            head[EE_LEN + OFFENDER_LEN..].copy_from_slice(&at.total_micros().to_ne_bytes());
            full = Some(!tsonly as usize);
            (&[], None)
        }
    };
    let n = buf.len().min(head.len());
    buf[..n].copy_from_slice(&head[..n]);
    let m = (buf.len() - n).min(payload.len());
    buf[n..n + m].copy_from_slice(&payload[..m]);
    (n + m, full.unwrap_or(payload.len()), dest)
}

/// The timestamp `encode` wrote in `head` (HEAD_LEN bytes), if the entry
/// is a TX timestamp.
pub fn decode_stamp(head: &[u8]) -> Option<Instant> {
    if head.len() < HEAD_LEN || head[4] != SO_EE_ORIGIN_TIMESTAMPING {
        return None;
    }
    let us = head[EE_LEN + OFFENDER_LEN..HEAD_LEN].try_into().ok()?;
    Some(Instant::from_micros(u64::from_ne_bytes(us)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn icmp(errno: Errno) -> SoErr {
        SoErr::Ext(Box::new(ExtErr {
            errno,
            origin: SO_EE_ORIGIN_ICMP,
            ee_type: 3,
            code: 3,
            info: 0,
            offender: Some(Ipv4Addr::new(10, 7, 0, 1).into()),
            dest: "10.7.0.1:9".parse().unwrap(),
            payload: b"hello".to_vec(),
        }))
    }

    #[test]
    fn dequeue_regenerates_the_pending_error_as_linux() {
        let mut q = VecDeque::from([icmp(Errno::ECONNREFUSED), icmp(Errno::EHOSTUNREACH)]);
        let mut err = Some(Errno::ECONNREFUSED);
        assert!(sock_dequeue_err(&mut q, &mut err).is_some());
        assert_eq!(err, Some(Errno::EHOSTUNREACH), "the next ICMP entry's");
        assert!(sock_dequeue_err(&mut q, &mut err).is_some());
        assert_eq!(err, None, "an ICMP entry taken, none follows");
        let mut q = VecDeque::from([SoErr::Zerocopy(0, 1)]);
        let mut err = Some(Errno::EPIPE);
        sock_dequeue_err(&mut q, &mut err);
        assert_eq!(
            err,
            Some(Errno::EPIPE),
            "a completion leaves the error alone"
        );
        assert_eq!(sock_dequeue_err(&mut q, &mut err), None);
    }

    #[test]
    fn encode_writes_ee_offender_and_payload() {
        let mut buf = [0u8; 64];
        let (n, full, dest) = encode(&icmp(Errno::ECONNREFUSED), &mut buf);
        assert_eq!((n, full), (HEAD_LEN + 5, 5));
        assert_eq!(dest, Some("10.7.0.1:9".parse().unwrap()));
        assert_eq!(u32::from_ne_bytes(buf[..4].try_into().unwrap()), 111);
        assert_eq!(&buf[4..7], &[SO_EE_ORIGIN_ICMP, 3, 3]);
        assert_eq!(u16::from_ne_bytes([buf[16], buf[17]]), AF_INET as u16);
        assert_eq!(&buf[20..24], &[10, 7, 0, 1]);
        assert_eq!(&buf[HEAD_LEN..HEAD_LEN + 5], b"hello");
        // Cut to the buffer.
        let mut small = [0u8; HEAD_LEN + 2];
        assert_eq!(
            encode(&icmp(Errno::ECONNREFUSED), &mut small).0,
            HEAD_LEN + 2
        );
        let (n, full, dest) = encode(&SoErr::Zerocopy(3, 7), &mut buf);
        assert_eq!((n, full, dest), (HEAD_LEN, 0, None));
        assert_eq!(buf[4], SO_EE_ORIGIN_ZEROCOPY);
        assert_eq!(&buf[16..20], &[0; 4], "no offender");
        assert_eq!(decode_stamp(&buf[..n]), None);
    }

    #[test]
    fn a_tx_timestamp_reads_with_its_time_and_truncated_without_tsonly() {
        let at = Instant::from_micros(1_234_567);
        let mut buf = [0u8; 64];
        for tsonly in [false, true] {
            let e = SoErr::Tstamp {
                stage: SCM_TSTAMP_ACK,
                key: 1999,
                at,
                tsonly,
            };
            let (n, full, dest) = encode(&e, &mut buf);
            assert_eq!((n, full, dest), (HEAD_LEN, !tsonly as usize, None));
            assert_eq!(u32::from_ne_bytes(buf[..4].try_into().unwrap()), 42);
            assert_eq!(buf[4], SO_EE_ORIGIN_TIMESTAMPING);
            assert_eq!(u32::from_ne_bytes(buf[8..12].try_into().unwrap()), 2);
            assert_eq!(u32::from_ne_bytes(buf[12..16].try_into().unwrap()), 1999);
            assert_eq!(decode_stamp(&buf[..n]), Some(at));
        }
    }

    #[test]
    fn timestamps_are_charged_to_the_receive_buffer() {
        let mut q = None;
        let e = SoErr::Tstamp {
            stage: SCM_TSTAMP_SND,
            key: 0,
            at: Instant::ZERO,
            tsonly: true,
        };
        for _ in 0..100 {
            sock_queue_err(&mut q, 1000, e.clone());
        }
        assert_eq!(q.map(|q| q.len()), Some(3), "256 bytes each under 1000");
    }
}
