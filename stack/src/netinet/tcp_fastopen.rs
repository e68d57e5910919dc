//! TCP Fast Open (RFC 7413) as Linux's tcp_fastopen.c does it: the
//! `net.ipv4.tcp_fastopen` bits, the server's cookies (SipHash-2-4 of the
//! addresses under `net.ipv4.tcp_fastopen_key`) and its decision for a SYN
//! (`tcp_try_fastopen`: accept the SYN's data and make the child now, or
//! answer with a cookie, or neither), and the client's plan for its SYN
//! from the cookie cache (`tcp_fastopen_cache`).

use std::net::{IpAddr, SocketAddr};

use crate::netinet::inet::InetCx;
use crate::netinet::tcp_var::TcpCb;
use crate::rng::siphash;
use crate::wire::{FastOpen, TcpRepr};

/// net.ipv4.tcp_fastopen bits.
pub const TFO_CLIENT_ENABLE: u32 = 1;
pub const TFO_SERVER_ENABLE: u32 = 2;
/// Client: data in the SYN without any cookie.
pub const TFO_CLIENT_NO_COOKIE: u32 = 4;
/// Server: accept a SYN's data without a (valid) cookie.
pub const TFO_SERVER_COOKIE_NOT_REQD: u32 = 0x200;
/// Server: every listener does Fast Open without TCP_FASTOPEN.
pub const TFO_SERVER_WO_SOCKOPT1: u32 = 0x400;
/// Linux's TCP_FASTOPEN_COOKIE_SIZE: the cookies a server makes.
const TCP_FASTOPEN_COOKIE_SIZE: usize = 8;
/// Linux's MAX_TCP_OPTION_SPACE: a SYN's data leaves room for 40 bytes of
/// options whatever it carries (middleboxes may add some).
pub const MAX_TCP_OPTION_SPACE: usize = 40;

/// The server's cookie for a client (Linux's
/// __tcp_fastopen_cookie_gen_cipher): SipHash-2-4 of the SYN's source and
/// destination addresses (4 or 16 bytes each), stored little-endian.
pub fn tcp_fastopen_cookie_gen(key: [u64; 2], src: IpAddr, dst: IpAddr) -> FastOpen {
    let mut d = Vec::with_capacity(32);
    for a in [src, dst] {
        match a {
            IpAddr::V4(a) => d.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => d.extend_from_slice(&a.octets()),
        }
    }
    let v = siphash(key, &d).to_le_bytes();
    FastOpen::cookie(&v[..TCP_FASTOPEN_COOKIE_SIZE], false)
}

/// The server key: the sysctl's, else one from the stack's own secret
/// (Linux makes a random one when the first listener needs it).
fn server_key(cx: &impl InetCx) -> [u64; 2] {
    cx.sysctl().tcp_fastopen_key.unwrap_or_else(|| {
        let k = cx.inet().isn_key;
        [k[0] ^ 0x7466_6f6b_6579_0001, k[1] ^ 0x7466_6f6b_6579_0002]
    })
}

/// What a listener does with a SYN (Linux's tcp_try_fastopen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TfoVerdict {
    /// A normal handshake; the SYN-ACK carries this option if any (a
    /// cookie for a request or for an invalid cookie).
    Handshake(Option<FastOpen>),
    /// Accept the SYN's data: the child is made now, in SYN-RECEIVED, and
    /// queued for accept() at once; its SYN-ACK carries no cookie.
    Child,
}

/// Linux's tcp_try_fastopen for a SYN to listener `ltp`: Fast Open needs
/// the server bit, the listener's queue length (TCP_FASTOPEN, or
/// TFO_SERVER_WO_SOCKOPT1 at listen()), and data or a Fast Open option in
/// the SYN. Without TFO_SERVER_COOKIE_NOT_REQD the data is taken only with
/// a valid cookie; a request, or an invalid cookie, is answered with the
/// valid one (in the form the client used).
pub fn tcp_try_fastopen(
    cx: &impl InetCx,
    ltp: &TcpCb,
    local: SocketAddr,
    remote: SocketAddr,
    seg: &TcpRepr,
) -> TfoVerdict {
    let bits = cx.sysctl().tcp_fastopen;
    let foc = seg.options.fast_open;
    let syn_data = !seg.payload.is_empty();
    if bits & TFO_SERVER_ENABLE == 0 || (!syn_data && foc.is_none()) || ltp.fastopen_qlen == 0 {
        return TfoVerdict::Handshake(None);
    }
    if bits & TFO_SERVER_COOKIE_NOT_REQD != 0 {
        return TfoVerdict::Child;
    }
    let Some(foc) = foc else {
        return TfoVerdict::Handshake(None);
    };
    let mut valid = tcp_fastopen_cookie_gen(server_key(cx), remote.ip(), local.ip());
    if foc.len > 0 && foc.bytes() == valid.bytes() {
        return TfoVerdict::Child;
    }
    valid.exp = foc.exp;
    TfoVerdict::Handshake(Some(valid))
}

/// The Fast Open plan for an active open to `dst` (Linux's
/// tcp_fastopen_cookie_check and tcp_send_syn_data): the option of our SYN
/// and how many of `want` bytes it carries. Data goes with a cached
/// cookie, or with none at all under TFO_CLIENT_NO_COOKIE (or the socket's
/// TCP_FASTOPEN_NO_COOKIE); else the SYN asks for a cookie and carries no
/// data. The data fits the cached MSS (else ours) less 40 bytes.
pub fn tcp_fastopen_syn_plan(
    cx: &impl InetCx,
    tp: &TcpCb,
    dst: IpAddr,
    want: usize,
) -> (Option<FastOpen>, usize, bool) {
    let (mss, cookie) = cx.inet().tfo_cache.get(cx.last_now(), dst);
    let no_cookie = cx.sysctl().tcp_fastopen & TFO_CLIENT_NO_COOKIE != 0 || tp.fastopen_no_cookie;
    let mut mss_clamp = mss.unwrap_or(tp.mss_offer) as usize;
    if tp.user_mss != 0 {
        mss_clamp = mss_clamp.min(tp.user_mss as usize);
    }
    let mtu_mss = cx.config().mtu.saturating_sub(40);
    let space = mss_clamp
        .min(mtu_mss)
        .saturating_sub(MAX_TCP_OPTION_SPACE)
        .min(want);
    if no_cookie {
        (None, space, true)
    } else if cookie.len > 0 {
        (Some(cookie), space, true)
    } else {
        (Some(FastOpen::request(cookie.exp)), 0, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_linux_siphash_of_the_addresses() {
        // packetdrill's TFO_COOKIE for its key
        // a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4, client 192.0.2.1, server
        // 192.168.0.1 (what Linux answers in the fastopen/server scripts).
        let key = [0xb2b2b2b2_a1a1a1a1, 0xd4d4d4d4_c3c3c3c3];
        let c = tcp_fastopen_cookie_gen(
            key,
            std::net::Ipv4Addr::new(192, 0, 2, 1).into(),
            std::net::Ipv4Addr::new(192, 168, 0, 1).into(),
        );
        assert_eq!(c.bytes(), &[0x30, 0x21, 0xb9, 0xd8, 0x89, 0x01, 0x7e, 0xeb]);
    }
}
