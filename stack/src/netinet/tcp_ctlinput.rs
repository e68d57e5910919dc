//! ICMP errors for TCP (FreeBSD's tcp_ctlinput, Linux's tcp_v4_err):
//! what a hard error does to a connection still opening or to a
//! half-open one in a listener's SYN cache.

use std::net::SocketAddr;

use crate::errno::Errno;
use crate::kern::sotable::lock_live;
use crate::netinet::inet::InetCx;
use crate::netinet::so_pcb::InPcb;
use crate::netinet::tcp_subr::tcp_close;
use crate::netinet::tcp_syncache::syncache_unreach;
use crate::netinet::tcp_var::TcpState;
use crate::time::Instant;

/// An ICMP error for a connection. Hard errors abort a connection still
/// opening (as Linux's tcp_v4_err), or a half-open one in a listener's SYN
/// cache (tcp_req_err); established connections ignore them.
pub(crate) fn tcp_ctlinput(
    cx: &impl InetCx,
    _now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    err: Errno,
) {
    let found = cx
        .inet()
        .pcbinfo
        .read()
        .tcp_conns
        .get(&(local, remote))
        .copied();
    let Some(h) = found else {
        // A half-open connection in a listener's SYN cache: Linux's
        // tcp_req_err drops the request on a hard error.
        let listener = cx.inet().pcbinfo.read().tcp_listener(local, remote);
        if let Some(l) = listener.and_then(|h| cx.sockets().lookup(h).ok()) {
            if let Some(mut l) = lock_live(&l) {
                syncache_unreach(&mut l, local, remote);
            }
        }
        return;
    };
    let Ok(sref) = cx.sockets().lookup(h) else {
        return;
    };
    let Some(mut so) = lock_live(&sref) else {
        return;
    };
    let state = so.so_pcb.tcp().map(|tp| tp.t_state);
    if matches!(state, Some(TcpState::SynSent | TcpState::SynReceived)) {
        so.so_error = Some(err);
        tcp_close(cx, &mut so);
    }
}
