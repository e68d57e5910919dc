//! `sockshim capture -w FILE`: a pcapng file (pcap-file crate, LINKTYPE_RAW:
//! IP packets without a link header; `--pcap` for the classic format) of
//! every frame the namespace's stack receives and sends, which tcpdump -r
//! and tshark read. Each packet's EPB carries its direction (epb_flags:
//! inbound or outbound), and a frame the stack dropped carries a comment
//! naming the reason (the stack's `drop_*` counter: "dropped by the stack:
//! drop_checksum"), which `tshark -V` and Wireshark show. The stack
//! service copies each frame to a SOCK_SEQPACKET socket we pass it
//! (service/src/capture.rs gives the record format); frames the service
//! could not copy because we fell behind are counted (the EPB's
//! epb_dropcount on the next frame) and reported.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recv, setsockopt, socketpair, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use crate::service::Service;

/// Bytes before the drop reason and the frame in a record
/// (service/src/capture.rs).
const HEADER: usize = 14;

pub struct CaptureOpts {
    pub tun: String,
    pub file: std::path::PathBuf,
    /// The classic pcap format (no annotations) instead of pcapng.
    pub pcap: bool,
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
    let mut w = Writer::new(std::io::BufWriter::new(file), o.pcap, &o.tun)
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
    let mut buf = vec![0u8; HEADER + 255 + 65_536];
    let (mut frames, mut dropped, mut stack_drops) = (0u64, 0u32, 0u64);
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
        let Some(r) = parse_record(&buf[..n]) else {
            continue;
        };
        let lost = r.dropped.saturating_sub(dropped);
        dropped = r.dropped;
        stack_drops += !r.reason.is_empty() as u64;
        w.write(wall0 + Duration::from_micros(r.us), &r, lost)
            .map_err(|e| format!("{}: {e}", o.file.display()))?;
        frames += 1;
    }
    w.flush()
        .map_err(|e| format!("{}: {e}", o.file.display()))?;
    eprintln!(
        "sockshim capture: {frames} frames written{}{}",
        if stack_drops > 0 && !o.pcap {
            format!(", {stack_drops} of them dropped by the stack (marked with the reason)")
        } else {
            String::new()
        },
        if dropped > 0 {
            format!(", {dropped} dropped (the capture fell behind the stack)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// One record from the service.
#[derive(Debug, PartialEq)]
struct Record<'a> {
    /// CLOCK_MONOTONIC microseconds.
    us: u64,
    inbound: bool,
    /// Frames the service could not copy to us so far.
    dropped: u32,
    /// The stack's `drop_*` counter the frame bumped ("": not dropped).
    reason: &'a str,
    frame: &'a [u8],
}

fn parse_record(b: &[u8]) -> Option<Record<'_>> {
    let h = b.get(..HEADER)?;
    let rlen = h[13] as usize;
    let reason = std::str::from_utf8(b.get(HEADER..HEADER + rlen)?).unwrap_or("");
    Some(Record {
        us: u64::from_le_bytes(h[..8].try_into().ok()?),
        inbound: h[8] == 0,
        dropped: u32::from_le_bytes(h[9..13].try_into().ok()?),
        reason,
        frame: &b[HEADER + rlen..],
    })
}

/// pcapng's epb_flags direction bits: 01 inbound, 10 outbound.
const EPB_INBOUND: u32 = 1;
const EPB_OUTBOUND: u32 = 2;

/// The file: pcapng (annotated) or classic pcap.
enum Writer<W: std::io::Write> {
    Pcap(PcapWriter<W>),
    PcapNg(PcapNgWriter<W>),
}

impl<W: std::io::Write> Writer<W> {
    fn new(w: W, pcap: bool, tun: &str) -> Result<Self, pcap_file::PcapError> {
        if pcap {
            let header = PcapHeader {
                datalink: DataLink::RAW,
                snaplen: 65_535,
                ..Default::default()
            };
            return Ok(Writer::Pcap(PcapWriter::with_header(w, header)?));
        }
        let mut ng = PcapNgWriter::new(w)?;
        ng.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::RAW,
            snaplen: 65_535,
            options: vec![
                InterfaceDescriptionOption::IfName(tun.to_string().into()),
                // pcap-file writes EPB timestamps in nanoseconds.
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })?;
        Ok(Writer::PcapNg(ng))
    }

    /// One frame at wall-clock `ts`; `lost`: frames the service could not
    /// copy since the previous one.
    fn write(&mut self, ts: Duration, r: &Record, lost: u32) -> Result<(), pcap_file::PcapError> {
        match self {
            Writer::Pcap(w) => {
                w.write_packet(&PcapPacket::new(ts, r.frame.len() as u32, r.frame))?;
            }
            Writer::PcapNg(w) => {
                let mut options = vec![EnhancedPacketOption::Flags(if r.inbound {
                    EPB_INBOUND
                } else {
                    EPB_OUTBOUND
                })];
                if !r.reason.is_empty() {
                    options.push(EnhancedPacketOption::Comment(
                        format!("dropped by the stack: {}", r.reason).into(),
                    ));
                }
                if lost > 0 {
                    options.push(EnhancedPacketOption::DropCount(lost as u64));
                }
                w.write_pcapng_block(EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: ts,
                    original_len: r.frame.len() as u32,
                    data: r.frame.into(),
                    options,
                })?;
            }
        }
        Ok(())
    }

    fn flush(self) -> std::io::Result<()> {
        let mut inner = match self {
            Writer::Pcap(w) => w.into_writer(),
            Writer::PcapNg(w) => w.into_inner(),
        };
        std::io::Write::flush(&mut inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    fn record(inbound: bool, dropped: u32, reason: &str, frame: &[u8]) -> Vec<u8> {
        let mut b = 7u64.to_le_bytes().to_vec();
        b.push(!inbound as u8);
        b.extend_from_slice(&dropped.to_le_bytes());
        b.push(reason.len() as u8);
        b.extend_from_slice(reason.as_bytes());
        b.extend_from_slice(frame);
        b
    }

    #[test]
    fn pcapng_marks_direction_stack_drops_and_lost_frames() {
        let recs = [
            record(false, 0, "", b"out frame"),
            record(true, 0, "drop_checksum", b"bad sum"),
            record(true, 3, "", b"in"),
        ];
        let mut w = Writer::new(Vec::new(), false, "tun0").unwrap();
        let mut seen = 0;
        for b in &recs {
            let r = parse_record(b).unwrap();
            let lost = r.dropped - seen;
            seen = r.dropped;
            w.write(Duration::from_secs(1_700_000_000), &r, lost)
                .unwrap();
        }
        let Writer::PcapNg(ng) = w else { panic!() };
        let bytes = ng.into_inner();
        let mut rd = PcapNgReader::new(&bytes[..]).unwrap();
        let mut epbs = Vec::new();
        while let Some(b) = rd.next_block() {
            match b.unwrap() {
                Block::InterfaceDescription(i) => assert_eq!(i.linktype, DataLink::RAW),
                Block::EnhancedPacket(e) => {
                    epbs.push((e.data.to_vec(), format!("{:?}", e.options)))
                }
                _ => {}
            }
        }
        assert_eq!(epbs.len(), 3);
        assert_eq!(epbs[0].0, b"out frame");
        let opts = |o: Vec<EnhancedPacketOption>| format!("{o:?}");
        assert_eq!(
            epbs[0].1,
            opts(vec![EnhancedPacketOption::Flags(EPB_OUTBOUND)])
        );
        assert_eq!(
            epbs[1].1,
            opts(vec![
                EnhancedPacketOption::Flags(EPB_INBOUND),
                EnhancedPacketOption::Comment("dropped by the stack: drop_checksum".into())
            ])
        );
        assert_eq!(epbs[1].0, b"bad sum");
        assert_eq!(
            epbs[2].1,
            opts(vec![
                EnhancedPacketOption::Flags(EPB_INBOUND),
                EnhancedPacketOption::DropCount(3)
            ])
        );
        assert_eq!(parse_record(&[0; 5]), None, "short record");
    }
}
