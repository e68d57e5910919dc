//! setsockopt/getsockopt at SOL_SOCKET (FreeBSD's sosetopt/sogetopt), with
//! Linux's values, doubling of buffer sizes and optlen rules, and the
//! routing of other levels as Linux's inet sockets route them: the
//! transport's own level (IPPROTO_TCP on TCP, IPPROTO_UDP on UDP) to the
//! protocol's int options (`pru_ctloutput_*`, TCP_INFO as a struct),
//! IPPROTO_IP to `ip_ctloutput_*` with its one-byte optlen rules, and any
//! other level to ip_setsockopt/ip_getsockopt's answer: ENOPROTOOPT on set,
//! EOPNOTSUPP on get.

use crate::api::SockType;
use crate::errno::Errno;
use crate::host::Stack;
use crate::kern::socket::Socket;
use crate::linux::*;
use crate::netinet::ip;
use crate::netinet::tcp_info::tcp_info;
use crate::time::Instant;

/// Linux's SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on 64-bit kernels.
pub const SOCK_MIN_SNDBUF: usize = 4608;
pub const SOCK_MIN_RCVBUF: usize = 2304;

fn int_arg(val: &[u8]) -> Result<i32, Errno> {
    match val.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Errno::EINVAL),
    }
}

/// Write an option value truncated to the caller's length, as Linux does.
fn put(out: &mut [u8], bytes: &[u8]) -> usize {
    let n = out.len().min(bytes.len());
    out[..n].copy_from_slice(&bytes[..n]);
    n
}

/// The level is the socket's own transport (TCP options on TCP, UDP's on UDP).
fn own_transport(so: &Socket, level: i32) -> bool {
    match so.so_type {
        SockType::Stream => level == IPPROTO_TCP,
        SockType::Dgram => level == IPPROTO_UDP,
    }
}

impl Stack {
    pub(crate) fn sosetopt(
        &self,
        now: Instant,
        so: &mut Socket,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), Errno> {
        if level == IPPROTO_IP {
            let v = ip::ip_setsockopt_val(name, val)?;
            return so.proto().pru_ctloutput_set(self, now, so, level, name, v);
        }
        if level != SOL_SOCKET {
            if !own_transport(so, level) {
                return Err(Errno::ENOPROTOOPT);
            }
            let v = int_arg(val)?;
            return so.proto().pru_ctloutput_set(self, now, so, level, name, v);
        }
        if name == SO_LINGER {
            if val.len() < 8 {
                return Err(Errno::EINVAL);
            }
            let onoff = int_arg(&val[..4])?;
            // Linux keeps l_linger as an unsigned number of seconds.
            let linger = int_arg(&val[4..8])? as u32;
            let o = &mut so.so_options;
            if onoff != 0 {
                o.linger = Some(linger);
                o.lingertime = linger;
            } else {
                o.linger = None;
            }
            return Ok(());
        }
        let v = int_arg(val)?;
        let sys = &self.config.sysctl;
        let o = &mut so.so_options;
        match name {
            SO_REUSEADDR => o.reuseaddr = v != 0,
            SO_REUSEPORT => o.reuseport = v != 0,
            SO_KEEPALIVE => {
                o.keepalive = v != 0;
                so.proto()
                    .pru_ctloutput_set(self, now, so, SOL_SOCKET, SO_KEEPALIVE, v)?;
            }
            SO_BROADCAST => o.broadcast = v != 0,
            SO_OOBINLINE => o.oobinline = v != 0,
            SO_DONTROUTE => o.dontroute = v != 0,
            SO_DEBUG => o.debug = v != 0,
            SO_PRIORITY => o.priority = v as u32,
            // Linux wants CAP_NET_ADMIN or CAP_NET_RAW here (else EPERM);
            // the stack does not know the caller's capabilities.
            SO_MARK => o.mark = v as u32,
            SO_SNDBUF | SO_SNDBUFFORCE => {
                let cap = if name == SO_SNDBUF {
                    sys.wmem_max
                } else {
                    i32::MAX as usize
                };
                let v = (v as u32 as usize).min(cap);
                so.so_snd
                    .set_hiwat((v * 2).clamp(SOCK_MIN_SNDBUF, i32::MAX as usize));
                self.sowakeup(so.handle);
            }
            SO_RCVBUF | SO_RCVBUFFORCE => {
                let cap = if name == SO_RCVBUF {
                    sys.rmem_max
                } else {
                    i32::MAX as usize
                };
                o.rcvbuf_lock = true;
                let v = (v as u32 as usize).min(cap);
                so.so_rcv
                    .set_hiwat((v * 2).clamp(SOCK_MIN_RCVBUF, i32::MAX as usize));
            }
            SO_RCVLOWAT => {
                let v = if v < 0 { i32::MAX } else { v } as usize;
                if so.so_type == SockType::Stream {
                    self.tcp_set_rcvlowat(so, v);
                } else {
                    so.so_rcv.sb_lowat = v.max(1);
                }
            }
            SO_NO_CHECK => {}
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// Linux's tcp_set_rcvlowat: capped at half the receive buffer if the
    /// application sized it (SO_RCVBUF), else at half of tcp_rmem[2], in
    /// which case the buffer grows to hold the low-water mark (twice it,
    /// the space Linux's default scaling ratio needs for that window) and
    /// the window clamp becomes the mark.
    fn tcp_set_rcvlowat(&self, so: &mut Socket, v: usize) {
        let locked = so.so_options.rcvbuf_lock;
        let cap = if locked {
            so.so_rcv.sb_hiwat / 2
        } else {
            self.config.sysctl.tcp_rmem[2] / 2
        };
        let v = v.min(cap);
        so.so_rcv.sb_lowat = v.max(1);
        if !locked {
            let space = v.saturating_mul(2);
            if space > so.so_rcv.sb_hiwat {
                so.so_rcv.set_hiwat(space);
                if let Some(tp) = so.so_pcb.tcp_mut() {
                    tp.window_clamp = v as u32;
                }
            }
        }
        // Readiness depends on the mark (tcp_data_ready).
        self.sowakeup(so.handle);
    }

    pub(crate) fn sogetopt(
        &self,
        so: &mut Socket,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> Result<usize, Errno> {
        if level == IPPROTO_IP {
            let v = so.proto().pru_ctloutput_get(self, so, level, name)?;
            return Ok(ip::ip_getsockopt_put(out, v));
        }
        if level != SOL_SOCKET {
            if !own_transport(so, level) {
                return Err(Errno::EOPNOTSUPP);
            }
            if level == IPPROTO_TCP && name == TCP_INFO {
                let info = tcp_info(self, so);
                return Ok(put(out, &info.to_bytes()));
            }
            let v = so.proto().pru_ctloutput_get(self, so, level, name)?;
            return Ok(put(out, &v.to_ne_bytes()));
        }
        if name == SO_LINGER {
            let o = so.so_options;
            let onoff = o.linger.is_some() as i32;
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&onoff.to_ne_bytes());
            b[4..].copy_from_slice(&(o.lingertime as i32).to_ne_bytes());
            return Ok(put(out, &b));
        }
        let o = so.so_options;
        let v: i32 = match name {
            SO_TYPE => match so.so_type {
                SockType::Stream => SOCK_STREAM,
                SockType::Dgram => SOCK_DGRAM,
            },
            SO_ERROR => so.take_error().map_or(0, |e| e.0),
            SO_DOMAIN => AF_INET,
            SO_PROTOCOL => match so.so_type {
                SockType::Stream => IPPROTO_TCP,
                SockType::Dgram => IPPROTO_UDP,
            },
            SO_ACCEPTCONN => o.acceptconn as i32,
            SO_REUSEADDR => o.reuseaddr as i32,
            SO_REUSEPORT => o.reuseport as i32,
            SO_KEEPALIVE => o.keepalive as i32,
            SO_BROADCAST => o.broadcast as i32,
            SO_OOBINLINE => o.oobinline as i32,
            SO_DONTROUTE => o.dontroute as i32,
            SO_DEBUG => o.debug as i32,
            SO_PRIORITY => o.priority as i32,
            SO_MARK => o.mark as i32,
            SO_SNDBUF => so.so_snd.sb_hiwat as i32,
            SO_RCVBUF => so.so_rcv.sb_hiwat as i32,
            SO_RCVLOWAT => so.so_rcv.sb_lowat as i32,
            SO_SNDLOWAT => 1,
            SO_NO_CHECK => 0,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(put(out, &v.to_ne_bytes()))
    }
}
