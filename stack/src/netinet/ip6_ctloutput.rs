//! IPPROTO_IPV6 socket options of an AF_INET6 socket, as Linux's
//! do_ipv6_setsockopt/do_ipv6_getsockopt: IPV6_V6ONLY (before bind
//! only), IPV6_UNICAST_HOPS, IPV6_TCLASS (TCP keeps the ECN bits), the
//! receive options IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS,
//! IPV6_RECVORIGDSTADDR (their control messages: ip_cmsg.rs) and
//! IPV6_RECVERR (stored), IPV6_MULTICAST_HOPS
//! (not on stream sockets), IPV6_MULTICAST_LOOP, IPV6_MULTICAST_IF (not on
//! stream sockets; one of the stack's two interfaces), IPV6_MTU_DISCOVER,
//! IPV6_DONTFRAG, and IPV6_MTU (set: checked, not kept; get:
//! the path MTU of a connected socket, ip_pmtu.rs). Every one takes an
//! int (a shorter optlen is EINVAL); a getsockopt copies at most an int.
//! IPV6_MULTICAST_ALL (the PCB's one multicast-all flag, shared with
//! IP_MULTICAST_ALL: Linux keeps two). IPV6_JOIN_GROUP / IPV6_LEAVE_GROUP
//! are EPROTO on TCP as Linux's; a UDP socket's memberships are
//! `ip6_mcast`'s.
//! An AF_INET socket has no IPPROTO_IPV6 level: ENOPROTOOPT to set,
//! EOPNOTSUPP to get (ip_setsockopt / ip_getsockopt).

use crate::api::Domain;
use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::in_pcb::{
    Inpcb, MCIF6_DEV, MCIF6_LO, PMTU6_DISC, PMTU6_DONTFRAG, PMTU6_MCIF, RX6_HOPLIMIT,
    RX6_ORIGDSTADDR, RX6_PKTINFO, RX6_RECVERR, RX6_TCLASS,
};
use crate::netinet::inet::InetCx;

/// What the IPv6 options read of the stack besides the PCB.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ip6Env {
    /// net.ipv6.conf.default.hop_limit.
    pub default_hops: u8,
    /// The TUN device's interface index (loopback's is 1).
    pub dev_ifindex: u32,
    /// The path MTU to the connected peer (ip_pmtu.rs).
    pub path_mtu: usize,
}

impl Ip6Env {
    pub(crate) fn of(cx: &impl InetCx, inp: &Inpcb) -> Ip6Env {
        Ip6Env {
            default_hops: cx.sysctl().ipv6_hop_limit,
            dev_ifindex: cx.config().ifindex,
            path_mtu: crate::netinet::ip_pmtu::path_mtu(cx, inp.faddr),
        }
    }
}

/// The smallest IPV6_MTU a socket may set (IPV6_MIN_MTU).
const IPV6_MIN_MTU: i32 = 1280;

/// The `Inpcb::rxopt6` bit of a boolean receive option.
fn rx6_bit(name: i32) -> Option<u8> {
    Some(match name {
        IPV6_RECVPKTINFO => RX6_PKTINFO,
        IPV6_RECVHOPLIMIT => RX6_HOPLIMIT,
        IPV6_RECVTCLASS => RX6_TCLASS,
        IPV6_RECVORIGDSTADDR => RX6_ORIGDSTADDR,
        IPV6_RECVERR => RX6_RECVERR,
        _ => return None,
    })
}

/// The two ECN bits of the traffic class.
const INET_ECN_MASK: i32 = 3;

fn int_of(val: &[u8]) -> Result<i32, Errno> {
    match val {
        [a, b, c, d, ..] => Ok(i32::from_ne_bytes([*a, *b, *c, *d])),
        _ => Err(Errno::EINVAL),
    }
}

/// Set an IPPROTO_IPV6 option; `stream` for TCP.
pub(crate) fn ip6_ctloutput_set(
    env: &Ip6Env,
    inp: &mut Inpcb,
    stream: bool,
    name: i32,
    val: &[u8],
) -> Result<(), Errno> {
    if inp.family != Domain::Inet6 {
        return Err(Errno::ENOPROTOOPT);
    }
    if let Some(bit) = rx6_bit(name) {
        match int_of(val)? {
            0 => inp.rxopt6 &= !bit,
            _ => inp.rxopt6 |= bit,
        }
        return Ok(());
    }
    match name {
        IPV6_V6ONLY => {
            let v = int_of(val)?;
            if inp.lport != 0 {
                return Err(Errno::EINVAL);
            }
            inp.v6only = v != 0;
        }
        IPV6_UNICAST_HOPS => {
            let v = int_of(val)?;
            if !(-1..=255).contains(&v) {
                return Err(Errno::EINVAL);
            }
            inp.hops6 = v as i16;
        }
        IPV6_TCLASS => {
            let v = int_of(val)?;
            if !(-1..=0xff).contains(&v) {
                return Err(Errno::EINVAL);
            }
            let v = v.max(0);
            inp.tclass = if stream {
                ((v & !INET_ECN_MASK) | (i32::from(inp.tclass) & INET_ECN_MASK)) as u8
            } else {
                v as u8
            };
        }
        IPV6_MULTICAST_HOPS if !stream => {
            let v = int_of(val)?;
            if !(-1..=255).contains(&v) {
                return Err(Errno::EINVAL);
            }
            inp.mc_hops6 = v as i16;
        }
        IPV6_MULTICAST_LOOP => {
            let v = int_of(val)?;
            if !(0..=1).contains(&v) {
                return Err(Errno::EINVAL);
            }
            inp.mc_loop6 = v == 1;
        }
        IPV6_MULTICAST_ALL => inp.mc_all6 = int_of(val)? != 0,
        IPV6_MULTICAST_IF if !stream => {
            let v = int_of(val)? as u32;
            let sel = match v {
                0 => 0,
                LOOPBACK_IFINDEX => MCIF6_LO,
                i if i == env.dev_ifindex => MCIF6_DEV,
                _ => return Err(Errno::ENODEV),
            };
            inp.pmtu6 = (inp.pmtu6 & !PMTU6_MCIF) | sel;
        }
        IPV6_MTU_DISCOVER => {
            let v = int_of(val)?;
            if !(0..=i32::from(IPV6_PMTUDISC_OMIT)).contains(&v) {
                return Err(Errno::EINVAL);
            }
            inp.pmtu6 = (inp.pmtu6 & !PMTU6_DISC) | v as u8;
        }
        IPV6_DONTFRAG => match int_of(val)? {
            0 => inp.pmtu6 &= !PMTU6_DONTFRAG,
            _ => inp.pmtu6 |= PMTU6_DONTFRAG,
        },
        IPV6_MTU => {
            let v = int_of(val)?;
            if v != 0 && v < IPV6_MIN_MTU {
                return Err(Errno::EINVAL);
            }
            // Checked as Linux, not kept: the PCB has no room for
            // np->frag_size (TcpCb's size is pinned), so datagrams are
            // still cut to the path's MTU (README, limits).
        }
        IPV6_JOIN_GROUP | IPV6_LEAVE_GROUP => {
            // struct ipv6_mreq is 20 bytes; TCP has no memberships.
            if val.len() < 20 {
                return Err(Errno::EINVAL);
            }
            return Err(if stream {
                Errno::EPROTO
            } else {
                Errno::ENOPROTOOPT
            });
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// Get an IPPROTO_IPV6 option into `out` (at most an int); returns the
/// length.
pub(crate) fn ip6_ctloutput_get(
    env: &Ip6Env,
    inp: &Inpcb,
    name: i32,
    out: &mut [u8],
) -> Result<usize, Errno> {
    let default_hops = env.default_hops;
    if inp.family != Domain::Inet6 {
        return Err(Errno::EOPNOTSUPP);
    }
    let v: i32 = match name {
        _ if rx6_bit(name).is_some_and(|b| inp.rxopt6 & b != 0) => 1,
        _ if rx6_bit(name).is_some() => 0,
        IPV6_V6ONLY => inp.v6only as i32,
        IPV6_UNICAST_HOPS if inp.hops6 < 0 => i32::from(default_hops),
        IPV6_UNICAST_HOPS => i32::from(inp.hops6),
        IPV6_TCLASS => i32::from(inp.tclass),
        IPV6_MULTICAST_HOPS if inp.mc_hops6 < 0 => 1,
        IPV6_MULTICAST_HOPS => i32::from(inp.mc_hops6),
        IPV6_MULTICAST_LOOP => inp.mc_loop6 as i32,
        IPV6_MULTICAST_ALL => inp.mc_all6 as i32,
        IPV6_MULTICAST_IF => match inp.pmtu6 & PMTU6_MCIF {
            MCIF6_LO => LOOPBACK_IFINDEX as i32,
            MCIF6_DEV => env.dev_ifindex as i32,
            _ => 0,
        },
        IPV6_MTU_DISCOVER => i32::from(inp.pmtudisc6()),
        IPV6_DONTFRAG => inp.dontfrag6() as i32,
        IPV6_MTU if inp.is_connected() => env.path_mtu as i32,
        IPV6_MTU => return Err(Errno::ENOTCONN),
        _ => return Err(Errno::ENOPROTOOPT),
    };
    let n = out.len().min(4);
    out[..n].copy_from_slice(&v.to_ne_bytes()[..n]);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: Ip6Env = Ip6Env {
        default_hops: 64,
        dev_ifindex: 5,
        path_mtu: 1400,
    };

    fn set(inp: &mut Inpcb, stream: bool, name: i32, v: i32) -> Result<(), Errno> {
        ip6_ctloutput_set(&ENV, inp, stream, name, &v.to_ne_bytes())
    }

    fn get(inp: &Inpcb, name: i32) -> Result<i32, Errno> {
        let mut b = [0u8; 4];
        ip6_ctloutput_get(&ENV, inp, name, &mut b).map(|_| i32::from_ne_bytes(b))
    }

    /// Checked on this machine's kernel (6.18) with python3 in a netns.
    #[test]
    fn mtu_and_multicast_interface_options_follow_linux() {
        let mut u = Inpcb::new_in(Domain::Inet6, 64, false);
        assert_eq!(get(&u, IPV6_MTU_DISCOVER), Ok(1), "WANT");
        set(&mut u, false, IPV6_MTU_DISCOVER, 5).unwrap();
        assert_eq!(get(&u, IPV6_MTU_DISCOVER), Ok(5));
        assert_eq!(set(&mut u, false, IPV6_MTU_DISCOVER, 6), Err(Errno::EINVAL));
        assert_eq!(
            set(&mut u, false, IPV6_MTU_DISCOVER, -1),
            Err(Errno::EINVAL)
        );
        assert_eq!(get(&u, IPV6_MTU), Err(Errno::ENOTCONN));
        assert_eq!(set(&mut u, false, IPV6_MTU, 1000), Err(Errno::EINVAL));
        for ok in [1280, 0, 70000] {
            set(&mut u, false, IPV6_MTU, ok).unwrap();
        }
        assert_eq!(get(&u, IPV6_MULTICAST_ALL), Ok(1));
        set(&mut u, false, IPV6_MULTICAST_ALL, 7).unwrap();
        assert_eq!(get(&u, IPV6_MULTICAST_ALL), Ok(1));
        set(&mut u, false, IPV6_MULTICAST_ALL, 0).unwrap();
        assert_eq!(get(&u, IPV6_MULTICAST_ALL), Ok(0));
        assert_eq!(get(&u, IPV6_MULTICAST_IF), Ok(0));
        set(&mut u, false, IPV6_MULTICAST_IF, 1).unwrap();
        assert_eq!(get(&u, IPV6_MULTICAST_IF), Ok(1));
        set(&mut u, false, IPV6_MULTICAST_IF, 5).unwrap();
        assert_eq!(get(&u, IPV6_MULTICAST_IF), Ok(5));
        assert_eq!(
            set(&mut u, false, IPV6_MULTICAST_IF, 99),
            Err(Errno::ENODEV)
        );
        set(&mut u, false, IPV6_MULTICAST_IF, 0).unwrap();
        assert_eq!(get(&u, IPV6_MULTICAST_IF), Ok(0));
        assert_eq!(get(&u, IPV6_DONTFRAG), Ok(0));
        set(&mut u, false, IPV6_DONTFRAG, 1).unwrap();
        assert_eq!(get(&u, IPV6_DONTFRAG), Ok(1));
        assert_eq!(get(&u, IPV6_MTU_DISCOVER), Ok(5), "bits kept apart");
        let mut t = Inpcb::new_in(Domain::Inet6, 64, false);
        assert_eq!(
            set(&mut t, true, IPV6_MULTICAST_IF, 1),
            Err(Errno::ENOPROTOOPT)
        );
        assert_eq!(get(&t, IPV6_MULTICAST_IF), Ok(0));
        let mreq = [0u8; 20];
        assert_eq!(
            ip6_ctloutput_set(&ENV, &mut t, true, IPV6_JOIN_GROUP, &mreq),
            Err(Errno::EPROTO)
        );
        assert_eq!(
            ip6_ctloutput_set(&ENV, &mut t, true, IPV6_JOIN_GROUP, &mreq[..16]),
            Err(Errno::EINVAL)
        );
        t.faddr = "fd00:7::1".parse().unwrap();
        t.fport = 80;
        assert_eq!(get(&t, IPV6_MTU), Ok(1400), "the path's");
    }

    #[test]
    fn options_follow_linux() {
        let mut inp = Inpcb::new_in(Domain::Inet6, 64, false);
        assert_eq!(get(&inp, IPV6_V6ONLY), Ok(0));
        set(&mut inp, true, IPV6_V6ONLY, 7).unwrap();
        assert_eq!(get(&inp, IPV6_V6ONLY), Ok(1));
        assert_eq!(get(&inp, IPV6_UNICAST_HOPS), Ok(64), "the default");
        set(&mut inp, true, IPV6_UNICAST_HOPS, 9).unwrap();
        assert_eq!(get(&inp, IPV6_UNICAST_HOPS), Ok(9));
        assert_eq!(inp.ttl_tos_to("fd00::1".parse().unwrap(), 64), (9, 0));
        assert_eq!(
            set(&mut inp, true, IPV6_UNICAST_HOPS, 256),
            Err(Errno::EINVAL)
        );
        set(&mut inp, true, IPV6_UNICAST_HOPS, -1).unwrap();
        assert_eq!(get(&inp, IPV6_UNICAST_HOPS), Ok(64));
        set(&mut inp, true, IPV6_TCLASS, 0xff).unwrap();
        assert_eq!(get(&inp, IPV6_TCLASS), Ok(0xfc), "TCP keeps the ECN bits");
        set(&mut inp, false, IPV6_TCLASS, 0xff).unwrap();
        assert_eq!(get(&inp, IPV6_TCLASS), Ok(0xff));
        set(&mut inp, false, IPV6_TCLASS, -1).unwrap();
        assert_eq!(get(&inp, IPV6_TCLASS), Ok(0));
        assert_eq!(
            set(&mut inp, true, IPV6_MULTICAST_HOPS, 3),
            Err(Errno::ENOPROTOOPT)
        );
        set(&mut inp, false, IPV6_MULTICAST_HOPS, 3).unwrap();
        assert_eq!(get(&inp, IPV6_MULTICAST_HOPS), Ok(3));
        assert_eq!(
            set(&mut inp, false, IPV6_MULTICAST_LOOP, 2),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            ip6_ctloutput_set(&ENV, &mut inp, false, IPV6_V6ONLY, &[1]),
            Err(Errno::EINVAL),
            "an int is required"
        );
        assert_eq!(get(&inp, 9999), Err(Errno::ENOPROTOOPT));
        // Only before bind.
        inp.lport = 80;
        assert_eq!(set(&mut inp, true, IPV6_V6ONLY, 0), Err(Errno::EINVAL));
        // No IPPROTO_IPV6 on an AF_INET socket.
        let mut v4 = Inpcb::new(64);
        assert_eq!(set(&mut v4, true, IPV6_V6ONLY, 1), Err(Errno::ENOPROTOOPT));
        assert_eq!(get(&v4, IPV6_V6ONLY), Err(Errno::EOPNOTSUPP));
        let mut b = [0u8; 2];
        assert_eq!(ip6_ctloutput_get(&ENV, &inp, IPV6_V6ONLY, &mut b), Ok(2));
    }

    #[test]
    fn receive_options_are_separate_bits() {
        let mut inp = Inpcb::new_in(Domain::Inet6, 64, false);
        let all = [
            IPV6_RECVPKTINFO,
            IPV6_RECVHOPLIMIT,
            IPV6_RECVTCLASS,
            IPV6_RECVORIGDSTADDR,
            IPV6_RECVERR,
        ];
        for name in all {
            assert_eq!(get(&inp, name), Ok(0), "{name}: off by default");
        }
        set(&mut inp, false, IPV6_RECVTCLASS, 5).unwrap();
        assert_eq!(get(&inp, IPV6_RECVTCLASS), Ok(1));
        assert_eq!(get(&inp, IPV6_RECVHOPLIMIT), Ok(0), "only its own bit");
        set(&mut inp, true, IPV6_RECVHOPLIMIT, 1).unwrap();
        set(&mut inp, false, IPV6_RECVTCLASS, 0).unwrap();
        assert_eq!(inp.rxopt6, RX6_HOPLIMIT);
        assert_eq!(
            ip6_ctloutput_set(&ENV, &mut inp, false, IPV6_RECVERR, &[1]),
            Err(Errno::EINVAL),
            "an int is required"
        );
    }
}
