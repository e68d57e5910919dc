//! smoltcp-tun: bulk TCP through smoltcp over a TUN device, the
//! counterpart of `bench/rr.c`'s `sink` and `send` for scripts/bench.
//!
//!   smoltcp-tun DEV sink PORT           accept one connection on 10.7.0.2:PORT,
//!                                       read until the peer's FIN, close
//!   smoltcp-tun DEV send ADDR PORT SECS send for SECS seconds to ADDR:PORT,
//!                                       close, wait until the peer closed too,
//!                                       print "mib M secs S mibps R"
//!
//! Our address is 10.7.0.2/24, gateway 10.7.0.1 (scripts/netns-up). One
//! thread: poll the interface, move data, wait on the device until smoltcp's
//! next deadline. Buffers of 4 MiB each way (window scaling on).
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{wait as phy_wait, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use std::os::unix::io::AsRawFd;
use std::process::exit;

const BUF: usize = 4 << 20;

fn usage() -> ! {
    eprintln!("usage: smoltcp-tun DEV sink PORT | smoltcp-tun DEV send ADDR PORT SECS");
    exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        usage();
    }
    let mut dev = TunTapInterface::new(&args[1], Medium::Ip).unwrap_or_else(|e| {
        eprintln!("smoltcp-tun: open {}: {e}", args[1]);
        exit(1)
    });
    let fd = dev.as_raw_fd();
    // A TUN device keeps the offloads a previous user (the shim, with
    // SOCKSHIM_OFFLOAD on) set: without a virtio_net_hdr we must not be
    // handed super-frames. TUNSETOFFLOAD 0 clears them.
    // SAFETY: TUNSETOFFLOAD takes its flags by value; fd is the open device.
    unsafe { libc::ioctl(fd, 0x4004_54d0, 0 as libc::c_ulong) };
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, Instant::now());
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(10, 7, 0, 2), 24)).unwrap();
    });
    iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(10, 7, 0, 1))
        .unwrap();
    let sock = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; BUF]),
        tcp::SocketBuffer::new(vec![0; BUF]),
    );
    let mut sockets = SocketSet::new(vec![]);
    let h = sockets.add(sock);

    let send = match args[2].as_str() {
        "sink" => {
            let port: u16 = args[3].parse().unwrap_or_else(|_| usage());
            sockets.get_mut::<tcp::Socket>(h).listen(port).unwrap();
            println!("listening");
            None
        }
        "send" if args.len() > 5 => {
            let addr: Ipv4Address = args[3].parse().unwrap_or_else(|_| usage());
            let port: u16 = args[4].parse().unwrap_or_else(|_| usage());
            let secs: f64 = args[5].parse().unwrap_or_else(|_| usage());
            let s = sockets.get_mut::<tcp::Socket>(h);
            let local = 49152 + (std::process::id() % 16000) as u16;
            s.connect(iface.context(), (IpAddress::Ipv4(addr), port), local)
                .unwrap();
            Some(secs)
        }
        _ => usage(),
    };

    let chunk = vec![b'b'; 65536];
    let t0 = std::time::Instant::now();
    let mut sent: u64 = 0;
    let mut seen_open = false;
    let mut closing = false;
    loop {
        let now = Instant::now();
        iface.poll(now, &mut dev, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(h);
        match send {
            None => {
                if s.state() == tcp::State::Established {
                    seen_open = true;
                }
                while s.can_recv() {
                    let _ = s.recv(|b| (b.len(), b.len()));
                }
                if s.state() == tcp::State::CloseWait && !closing {
                    s.close();
                    closing = true;
                }
                if seen_open && matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait) {
                    return;
                }
            }
            Some(secs) => {
                if s.state() == tcp::State::Established {
                    seen_open = true;
                }
                if seen_open && !closing && t0.elapsed().as_secs_f64() >= secs {
                    s.close();
                    closing = true;
                }
                while !closing && s.can_send() {
                    match s.send_slice(&chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sent += n as u64,
                    }
                }
                if closing && matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait) {
                    let el = t0.elapsed().as_secs_f64();
                    let mib = sent as f64 / (1 << 20) as f64;
                    println!("mib {mib:.0} secs {el:.3} mibps {:.1}", mib / el);
                    return;
                }
                if !closing && s.state() == tcp::State::Closed {
                    eprintln!("smoltcp-tun: connection refused or lost");
                    exit(1);
                }
            }
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let delay = iface.poll_delay(Instant::now(), &sockets);
        let _ = phy_wait(fd, delay);
    }
}
