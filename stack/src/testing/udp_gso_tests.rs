//! UDP_SEGMENT and UDP_GRO between two stacks and over loopback: a send cut
//! by the device (USO, `gso::kernel_segment`), by the stack itself (no
//! USO), or handed over whole; a receiver without UDP_GRO gets the
//! datagrams, one with it the whole and its piece size. Also DF on UDP and
//! IP_MTU_DISCOVER's EMSGSIZE as Linux.

use std::net::{Ipv4Addr, SocketAddr};

use super::pair::{Device, Pair, A_ADDR, B_ADDR};
use crate::api::{DgramInfo, SockType, CMSG_WANT_UDP_GRO};
use crate::config::Config;
use crate::errno::Errno;
use crate::host::Stack;
use crate::linux::*;
use crate::netinet::ip_cmsg::ip_cmsg_recv;
use crate::offload::Offloads;
use crate::time::Instant;
use crate::wire::Ipv4Packet;
use crate::SocketHandle;

const USO: Offloads = Offloads {
    tso4: true,
    tso6: true,
    uso: true,
};

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 13 + i / 253) as u8).collect()
}

fn int(v: i32) -> [u8; 4] {
    v.to_ne_bytes()
}

/// A pair whose A has `offloads` and `device`; a UDP socket on B:9000
/// (with UDP_GRO when `gro`) and one on A with UDP_SEGMENT `gso`.
fn udp_pair(
    offloads: Offloads,
    device: Device,
    gso: i32,
    gro: bool,
) -> (Pair, SocketHandle, SocketHandle) {
    let mut p = Pair::with_config(21, |c| {
        if c.addr == A_ADDR {
            c.offloads = offloads;
        }
    });
    p.a_device = device;
    let r = p.b.socket(SockType::Dgram, 0).unwrap();
    p.b.bind(r, SocketAddr::new(B_ADDR.into(), 9000)).unwrap();
    if gro {
        p.b.setsockopt(p.now, r, IPPROTO_UDP, UDP_GRO, &int(1))
            .unwrap();
    }
    let s = p.a.socket(SockType::Dgram, 0).unwrap();
    p.a.setsockopt(p.now, s, IPPROTO_UDP, UDP_SEGMENT, &int(gso))
        .unwrap();
    (p, s, r)
}

/// Every datagram queued on `r` of stack `st`: (payload, how it arrived).
fn drain(st: &Stack, r: SocketHandle) -> Vec<(Vec<u8>, DgramInfo)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(m) = st.recv(Instant::ZERO, r, &mut buf, MSG_DONTWAIT) {
        out.push((buf[..m.copied].to_vec(), m.info.unwrap_or_default()));
    }
    out
}

fn to_b() -> Option<SocketAddr> {
    Some(SocketAddr::new(B_ADDR.into(), 9000))
}

#[test]
fn a_send_cut_by_the_device_arrives_as_its_datagrams() {
    let (mut p, s, r) = udp_pair(USO, Device::KernelSegments, 1000, false);
    let d = data(10_500);
    assert_eq!(p.a.send(p.now, s, &d, 0, to_b()), Ok(10_500));
    assert_eq!(p.a.stats().frames_out, 1, "one super-frame to the device");
    assert_eq!(p.a.stats().udp_gso_out, 1);
    p.drive();
    let got = drain(&p.b, r);
    let sizes: Vec<usize> = got.iter().map(|(g, _)| g.len()).collect();
    assert_eq!(sizes, [[1000; 10].as_slice(), &[500]].concat());
    let joined: Vec<u8> = got.iter().flat_map(|(g, _)| g.clone()).collect();
    assert!(joined == d, "every byte, checksums right");
    assert_eq!(p.b.stats().drop_checksum, 0);
    assert_eq!(p.a.stats().udp_out, 1, "one send counted once, as Linux");
}

#[test]
fn without_uso_the_stack_cuts_the_send_itself() {
    let (mut p, s, r) = udp_pair(Offloads::default(), Device::Plain, 1400, false);
    let d = data(4000);
    assert_eq!(p.a.send(p.now, s, &d, 0, to_b()), Ok(4000));
    assert_eq!(p.a.stats().frames_out, 3);
    assert_eq!(p.a.stats().udp_gso_out, 0);
    p.drive();
    let got = drain(&p.b, r);
    let sizes: Vec<usize> = got.iter().map(|(g, _)| g.len()).collect();
    assert_eq!(sizes, [1400, 1400, 1200]);
    assert!(p.max_frame_a_to_b <= 1500);
}

#[test]
fn a_super_datagram_reaches_a_gro_socket_whole_and_others_cut() {
    for gro in [false, true] {
        let (mut p, s, r) = udp_pair(USO, Device::Whole, 1200, gro);
        let d = data(3000);
        p.a.send(p.now, s, &d, 0, to_b()).unwrap();
        p.drive();
        let got = drain(&p.b, r);
        if gro {
            assert_eq!(got.len(), 1, "whole");
            assert!(got[0].0 == d);
            let info = DgramInfo {
                want: CMSG_WANT_UDP_GRO,
                ..got[0].1
            };
            assert_eq!(info.gso_size, 1200);
            let cmsgs = ip_cmsg_recv(&info, (0, 0));
            assert_eq!(cmsgs.len(), 1);
            assert_eq!(&cmsgs[0][8..12], int(IPPROTO_UDP), "SOL_UDP");
            assert_eq!(&cmsgs[0][12..16], int(UDP_GRO));
            assert_eq!(&cmsgs[0][16..20], int(1200));
        } else {
            let sizes: Vec<usize> = got.iter().map(|(g, _)| g.len()).collect();
            assert_eq!(sizes, [1200, 1200, 600]);
            assert!(got.iter().all(|(_, i)| i.gso_size == 0));
        }
        assert_eq!(p.b.stats().gso_frames_in, 1);
    }
}

#[test]
fn an_ordinary_datagram_to_a_gro_socket_has_no_piece_size() {
    let (mut p, s, r) = udp_pair(USO, Device::Whole, 1200, true);
    p.a.send(p.now, s, &data(800), 0, to_b()).unwrap();
    p.drive();
    let got = drain(&p.b, r);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.gso_size, 0, "no UDP_GRO message, as Linux");
}

#[test]
fn loopback_carries_a_super_datagram_whole() {
    let st = Stack::new(Config::new(Ipv4Addr::new(10, 0, 0, 1), 24));
    let lo = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7000);
    let r = st.socket(SockType::Dgram, 0).unwrap();
    st.bind(r, lo).unwrap();
    let s = st.socket(SockType::Dgram, 0).unwrap();
    for gro in [false, true] {
        st.setsockopt(Instant::ZERO, r, IPPROTO_UDP, UDP_GRO, &int(i32::from(gro)))
            .unwrap();
        // The send's control message (SOCKSHIM_SEND_ONCE) in place of the
        // socket's (none).
        let once = crate::netinet::in_pcb::SendOnce {
            gso_size: Some(1000),
            ..Default::default()
        };
        st.setsockopt(
            Instant::ZERO,
            s,
            SOL_SOCKSHIM,
            SOCKSHIM_SEND_ONCE,
            &once.to_bytes(),
        )
        .unwrap();
        assert_eq!(
            st.send(Instant::ZERO, s, &data(2500), 0, Some(lo)),
            Ok(2500)
        );
        while st.poll_transmit().is_some() {}
        let sizes: Vec<usize> = drain(&st, r).iter().map(|(g, _)| g.len()).collect();
        if gro {
            assert_eq!(sizes, [2500]);
        } else {
            assert_eq!(sizes, [1000, 1000, 500]);
        }
        // The next send is the socket's own again: not cut.
        st.send(Instant::ZERO, s, &data(2500), 0, Some(lo)).unwrap();
        while st.poll_transmit().is_some() {}
        assert_eq!(drain(&st, r).len(), 1);
    }
}

#[test]
fn segment_limits_as_linux() {
    let st = Stack::new(Config::new(Ipv4Addr::new(10, 0, 0, 1), 24));
    let s = st.socket(SockType::Dgram, 0).unwrap();
    let peer = Some(SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 9));
    let lo = Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 9));
    let set = |v: i32| {
        st.setsockopt(Instant::ZERO, s, IPPROTO_UDP, UDP_SEGMENT, &int(v))
            .unwrap()
    };
    set(1473);
    assert_eq!(st.send(Instant::ZERO, s, &data(1000), 0, peer), Ok(1000));
    assert_eq!(
        st.send(Instant::ZERO, s, &data(1473), 0, peer),
        Err(Errno::EMSGSIZE),
        "a piece over the MTU"
    );
    set(10);
    assert_eq!(st.send(Instant::ZERO, s, &data(1280), 0, lo), Ok(1280));
    assert_eq!(
        st.send(Instant::ZERO, s, &data(1281), 0, lo),
        Err(Errno::EINVAL),
        "129 pieces"
    );
    set(1000);
    assert_eq!(
        st.send(Instant::ZERO, s, &data(65_508), 0, peer),
        Err(Errno::EMSGSIZE)
    );
    assert_eq!(
        st.send(Instant::ZERO, s, &data(65_507), 0, peer),
        Ok(65_507)
    );
    let frames = std::iter::from_fn(|| st.poll_transmit()).count();
    assert_eq!(frames, 1 + 66, "1000 bytes whole, then 66 pieces");
}

/// The DF flag of the next frame `st` sends after a datagram of `n` bytes
/// under IP_MTU_DISCOVER `mode`, or the send's error.
fn df_after_send(mode: i32, n: usize) -> Result<Vec<bool>, Errno> {
    let st = Stack::new(Config::new(Ipv4Addr::new(10, 0, 0, 1), 24));
    let s = st.socket(SockType::Dgram, 0).unwrap();
    st.setsockopt(Instant::ZERO, s, IPPROTO_IP, IP_MTU_DISCOVER, &int(mode))
        .unwrap();
    let peer = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 9);
    st.send(Instant::ZERO, s, &data(n), 0, Some(peer))?;
    Ok(std::iter::from_fn(|| st.poll_transmit())
        .map(|f| Ipv4Packet::new_unchecked(&f[..]).dont_frag())
        .collect())
}

#[test]
fn udp_sets_df_and_refuses_to_fragment_as_ip_mtu_discover_says() {
    // Measured on Linux 6.18 over a veth (MTU 1500), modes 0-5.
    assert_eq!(df_after_send(0, 100), Ok(vec![false]), "DONT");
    assert_eq!(df_after_send(0, 2000), Ok(vec![false, false]));
    assert_eq!(df_after_send(1, 100), Ok(vec![true]), "WANT, the default");
    assert_eq!(df_after_send(1, 2000), Ok(vec![false, false]), "cut, no DF");
    assert_eq!(df_after_send(2, 100), Ok(vec![true]), "DO");
    assert_eq!(df_after_send(2, 2000), Err(Errno::EMSGSIZE));
    assert_eq!(df_after_send(3, 100), Ok(vec![true]), "PROBE");
    assert_eq!(df_after_send(3, 2000), Err(Errno::EMSGSIZE));
    assert_eq!(df_after_send(4, 100), Ok(vec![false]), "INTERFACE");
    assert_eq!(df_after_send(4, 2000), Err(Errno::EMSGSIZE));
    assert_eq!(df_after_send(5, 100), Ok(vec![false]), "OMIT");
    assert_eq!(df_after_send(5, 2000), Ok(vec![false, false]));
}

#[test]
fn emsgsize_under_ip_recverr_joins_the_error_queue() {
    let st = Stack::new(Config::new(Ipv4Addr::new(10, 0, 0, 1), 24));
    let s = st.socket(SockType::Dgram, 0).unwrap();
    st.setsockopt(Instant::ZERO, s, IPPROTO_IP, IP_MTU_DISCOVER, &int(2))
        .unwrap();
    st.setsockopt(Instant::ZERO, s, IPPROTO_IP, IP_RECVERR, &int(1))
        .unwrap();
    let peer = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 9);
    assert_eq!(
        st.send(Instant::ZERO, s, &data(2000), 0, Some(peer)),
        Err(Errno::EMSGSIZE)
    );
    let mut buf = [0u8; 64];
    let m = st
        .recv(Instant::ZERO, s, &mut buf, MSG_ERRQUEUE | MSG_DONTWAIT)
        .expect("an error queued");
    // sock_extended_err: errno, origin LOCAL, the MTU in ee_info; the
    // destination as the address; no payload, as ip_local_error.
    assert_eq!(buf[..4], (Errno::EMSGSIZE.0 as u32).to_ne_bytes());
    assert_eq!(buf[4], crate::kern::errqueue::SO_EE_ORIGIN_LOCAL);
    assert_eq!(buf[8..12], 1500u32.to_ne_bytes());
    assert_eq!(
        m.from,
        Some(SocketAddr::new(peer.ip(), 0)),
        "unconnected: port 0"
    );
    assert_eq!(m.full_len, 0);
}
