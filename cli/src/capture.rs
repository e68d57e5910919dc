//! `sockshim capture -w FILE`: a pcap file (pcap-file crate, LINKTYPE_RAW:
//! IPv4 packets without a link header) of every frame the namespace's
//! stack receives and sends, which tcpdump -r and tshark read. The stack
//! service copies each frame to a SOCK_SEQPACKET socket we pass it
//! (service/src/capture.rs gives the record format); frames the service
//! could not copy because we fell behind are counted and reported.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recv, setsockopt, socketpair, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

use crate::service::Service;

/// Bytes before the frame in a record (service/src/capture.rs).
const HEADER: usize = 13;

pub struct CaptureOpts {
    pub tun: String,
    pub file: std::path::PathBuf,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
}

/// CLOCK_MONOTONIC now, in microseconds (the records' clock).
fn monotonic_us() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

pub fn capture(o: CaptureOpts) -> i32 {
    match run(&o) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sockshim capture: {e}");
            1
        }
    }
}

fn run(o: &CaptureOpts) -> Result<(), String> {
    let mut svc = Service::connect(&o.tun)?;
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))?;
    // Room for bursts: the service never waits for us.
    let _ = setsockopt(&theirs, sockopt::SndBuf, &(8 << 20));
    let _ = setsockopt(&ours, sockopt::RcvBuf, &(8 << 20));
    let file = std::fs::File::create(&o.file).map_err(|e| format!("{}: {e}", o.file.display()))?;
    let header = PcapHeader {
        datalink: DataLink::RAW,
        snaplen: 65_535,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)
        .map_err(|e| format!("{}: {e}", o.file.display()))?;
    svc.call_with_fd(&proto::Request::Capture, &theirs)?;
    drop(theirs);

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    eprintln!(
        "sockshim capture: writing {} (device {}); Ctrl-C to stop",
        o.file.display(),
        o.tun
    );
    // Wall-clock time of the records' monotonic clock's zero.
    let wall0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(Duration::from_micros(monotonic_us()));
    let start = Instant::now();
    let mut buf = vec![0u8; HEADER + 65_536];
    let (mut frames, mut dropped) = (0u64, 0u32);
    loop {
        if stop.load(Ordering::Relaxed)
            || o.count.is_some_and(|c| frames >= c)
            || o.duration.is_some_and(|d| start.elapsed() >= d)
        {
            break;
        }
        let mut pfd = [PollFd::new(
            std::os::fd::AsFd::as_fd(&ours),
            PollFlags::POLLIN,
        )];
        match poll(&mut pfd, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let n = match recv(ours.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => break, // the service went away
            Ok(n) => n,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("recv: {e}")),
        };
        if n < HEADER {
            continue;
        }
        let us = u64::from_le_bytes(buf[..8].try_into().unwrap_or_default());
        dropped = u32::from_le_bytes(buf[9..13].try_into().unwrap_or_default());
        let frame = &buf[HEADER..n];
        let pkt = PcapPacket::new(wall0 + Duration::from_micros(us), frame.len() as u32, frame);
        w.write_packet(&pkt)
            .map_err(|e| format!("{}: {e}", o.file.display()))?;
        frames += 1;
    }
    let mut inner = w.into_writer();
    std::io::Write::flush(&mut inner).map_err(|e| format!("{}: {e}", o.file.display()))?;
    eprintln!(
        "sockshim capture: {frames} frames written{}",
        if dropped > 0 {
            format!(", {dropped} dropped (the capture fell behind the stack)")
        } else {
            String::new()
        }
    );
    Ok(())
}
