//! TSO and GRO between two stacks: A builds super-segments (Config::offloads)
//! that a kernel-like device cuts (`gso::kernel_segment`) or hands over
//! whole with their `virtio_net_hdr`; B must get every byte, with every
//! checksum right and nothing dropped.

use std::time::Duration;

use super::pair::{Device, Pair};
use crate::offload::Offloads;
use crate::wire::virtio_net::{VirtioNetHdr, GSO_UDP, HDR_LEN};

const TSO: Offloads = Offloads {
    tso4: true,
    tso6: true,
    uso: false,
};

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn tso_pair(device: Device) -> Pair {
    let mut p = Pair::with_config(13, |c| {
        if c.addr == super::pair::A_ADDR {
            c.offloads = TSO;
        }
    });
    p.a_device = device;
    p
}

#[test]
fn super_segments_cut_by_the_kernel_arrive_intact_v4() {
    let mut p = tso_pair(Device::KernelSegments);
    let (_l, c, s) = p.connected(80);
    let d = data(3 << 20);
    let got = p.transfer(true, c, s, &d);
    assert!(got == d, "the data arrived intact");
    let (a, b) = (p.a.stats(), p.b.stats());
    assert!(a.tcp_tso_out > 10, "super-segments sent: {a:?}");
    assert!(
        a.tcp_tso_bytes_out as usize > d.len() / 2,
        "most bytes went in super-segments: {}",
        a.tcp_tso_bytes_out
    );
    assert_eq!(b.drop_checksum, 0, "every piece's checksum verified");
    assert_eq!(b.drop_malformed, 0);
    assert!(
        p.max_frame_a_to_b <= 1500,
        "pieces fit the MTU: {}",
        p.max_frame_a_to_b
    );
    // B counted more segments than A sent: the device cut them.
    assert!(b.tcp_segs_in > a.tcp_segs_out);
}

#[test]
fn super_segments_cut_by_the_kernel_arrive_intact_v6() {
    let mut p = tso_pair(Device::KernelSegments);
    let (_l, c, s) = p.connected6(80);
    let d = data(1 << 20);
    let got = p.transfer(true, c, s, &d);
    assert!(got == d, "the data arrived intact");
    assert!(p.a.stats().tcp_tso_out > 5);
    assert_eq!(p.b.stats().drop_checksum, 0);
    assert!(p.max_frame_a_to_b <= 1500, "{}", p.max_frame_a_to_b);
}

#[test]
fn super_frames_taken_whole_with_a_partial_checksum() {
    let mut p = tso_pair(Device::Whole);
    let (_l, c, s) = p.connected(80);
    let d = data(2 << 20);
    let acks_before = p.frames_b_to_a;
    let got = p.transfer(true, c, s, &d);
    assert!(got == d, "the data arrived intact");
    let b = p.b.stats();
    assert!(b.gso_frames_in > 10, "super-frames taken: {b:?}");
    assert!(b.csum_trusted_in >= b.gso_frames_in);
    assert_eq!(b.drop_checksum, 0);
    assert!(
        p.max_frame_a_to_b > 1500 + HDR_LEN,
        "super-frames were sent"
    );
    // One ACK per super-frame or so, not one per two MSS.
    let acks = p.frames_b_to_a - acks_before;
    let mss_segments = d.len() / 1448;
    assert!(
        (acks as usize) < mss_segments / 4,
        "{acks} ACKs for {mss_segments} MSS of data"
    );
}

#[test]
fn loss_with_tso_retransmits_single_segments_and_delivers_everything() {
    let mut p = tso_pair(Device::KernelSegments);
    let (_l, c, s) = p.connected(80);
    p.params.loss = 0.02;
    p.params.delay = Duration::from_millis(5);
    let d = data(1 << 20);
    let got = p.transfer(true, c, s, &d);
    assert!(got == d, "the data arrived intact");
    let a = p.a.stats();
    assert!(a.tcp_retransmits > 0, "losses were repaired: {a:?}");
    assert!(a.tcp_tso_out > 0);
    assert_eq!(p.b.stats().drop_checksum, 0);
}

#[test]
fn without_offloads_no_super_segment_is_built() {
    let mut p = Pair::new(13);
    p.a_device = Device::KernelSegments;
    let (_l, c, s) = p.connected(80);
    let d = data(256 << 10);
    assert!(p.transfer(true, c, s, &d) == d);
    assert_eq!(p.a.stats().tcp_tso_out, 0);
    assert!(p.max_frame_a_to_b <= 1500);
}

#[test]
fn device_headers_we_do_not_take_are_dropped_and_counted() {
    let p = Pair::new(1);
    let h = VirtioNetHdr {
        gso_type: GSO_UDP,
        gso_size: 1000,
        ..Default::default()
    };
    let mut f = h.emit().to_vec();
    f.extend_from_slice(&[0x45; 40]);
    p.b.handle_vnet_frame(p.now, &f);
    p.b.handle_vnet_frame(p.now, &[0; 4]);
    let b = p.b.stats();
    assert_eq!(b.drop_vnet_hdr, 2);
    assert_eq!(b.frames_in, 0);
}

#[test]
fn a_corked_super_segment_keeps_its_partial_tail() {
    use crate::linux::{IPPROTO_TCP, TCP_CORK};
    let mut p = tso_pair(Device::KernelSegments);
    let (_l, c, s) = p.connected(80);
    p.a.setsockopt(p.now, c, IPPROTO_TCP, TCP_CORK, &1i32.to_ne_bytes())
        .unwrap();
    let mss = 1448;
    let d = data(5 * mss + 100);
    assert_eq!(p.a.send(p.now, c, &d, 0, None), Ok(d.len()));
    p.drive_for(Duration::from_millis(50));
    let mut buf = vec![0u8; d.len()];
    let got = p.b.recv(p.now, s, &mut buf, 0).unwrap().copied;
    assert_eq!(got, 5 * mss, "whole segments leave, the corked tail waits");
    assert!(p.a.stats().tcp_tso_out >= 1);
    p.a.setsockopt(p.now, c, IPPROTO_TCP, TCP_CORK, &0i32.to_ne_bytes())
        .unwrap();
    p.drive_for(Duration::from_millis(50));
    let rest = p.b.recv(p.now, s, &mut buf, 0).unwrap().copied;
    assert_eq!(rest, 100, "uncorked: the tail leaves");
}
