//! IPPROTO_IPV6 socket options of an AF_INET6 socket, as Linux's
//! do_ipv6_setsockopt/do_ipv6_getsockopt: IPV6_V6ONLY (before bind
//! only), IPV6_UNICAST_HOPS, IPV6_TCLASS (TCP keeps the ECN bits), the
//! receive options IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS,
//! IPV6_RECVORIGDSTADDR (their control messages: ip_cmsg.rs) and
//! IPV6_RECVERR (stored), IPV6_MULTICAST_HOPS
//! (not on stream sockets) and IPV6_MULTICAST_LOOP. Every one takes an
//! int (a shorter optlen is EINVAL); a getsockopt copies at most an int.
//! An AF_INET socket has no IPPROTO_IPV6 level: ENOPROTOOPT to set,
//! EOPNOTSUPP to get (ip_setsockopt / ip_getsockopt).

use crate::api::Domain;
use crate::errno::Errno;
use crate::linux::*;
use crate::netinet::in_pcb::{
    Inpcb, RX6_HOPLIMIT, RX6_ORIGDSTADDR, RX6_PKTINFO, RX6_RECVERR, RX6_TCLASS,
};

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
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// Get an IPPROTO_IPV6 option into `out` (at most an int); returns the
/// length. `default_hops` is net.ipv6.conf.default.hop_limit.
pub(crate) fn ip6_ctloutput_get(
    inp: &Inpcb,
    default_hops: u8,
    name: i32,
    out: &mut [u8],
) -> Result<usize, Errno> {
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
        _ => return Err(Errno::ENOPROTOOPT),
    };
    let n = out.len().min(4);
    out[..n].copy_from_slice(&v.to_ne_bytes()[..n]);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(inp: &mut Inpcb, stream: bool, name: i32, v: i32) -> Result<(), Errno> {
        ip6_ctloutput_set(inp, stream, name, &v.to_ne_bytes())
    }

    fn get(inp: &Inpcb, name: i32) -> Result<i32, Errno> {
        let mut b = [0u8; 4];
        ip6_ctloutput_get(inp, 64, name, &mut b).map(|_| i32::from_ne_bytes(b))
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
            ip6_ctloutput_set(&mut inp, false, IPV6_V6ONLY, &[1]),
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
        assert_eq!(ip6_ctloutput_get(&inp, 64, IPV6_V6ONLY, &mut b), Ok(2));
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
            ip6_ctloutput_set(&mut inp, false, IPV6_RECVERR, &[1]),
            Err(Errno::EINVAL),
            "an int is required"
        );
    }
}
