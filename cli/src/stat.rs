//! `sockshim stat [--watch] [--json]`: the namespace's stack as `ss -tinp`
//! and `nstat` show the kernel's: every socket (protocol, state, queues,
//! addresses, owning processes, TCP_INFO) and the stack's counters. It
//! asks the stack service (service/src/stat.rs gives the lines parsed
//! here) and finds the processes holding each socket by the inode of its
//! anchor in /proc/PID/fd.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use crate::service::Service;

/// One `sock` line: its `key=value` words, in order.
#[derive(Debug, Default)]
pub struct Sock(Vec<(String, String)>);

impl Sock {
    fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map_or("", |(_, v)| v.as_str())
    }
    fn num(&self, k: &str) -> u64 {
        self.get(k).parse().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub struct Snapshot {
    pub socks: Vec<Sock>,
    pub counters: Vec<(String, u64)>,
    pub faults: Vec<(String, u64)>,
    pub fault_spec: Option<String>,
    /// The `service` line: what the service holds (`held`, `sockets`,
    /// `clients`) and `refs_mismatch` (service/src/stat.rs).
    pub service: Vec<(String, u64)>,
}

/// Parse the service's lines (unknown lines are skipped: a newer service).
pub fn parse(text: &str, snap: &mut Snapshot) -> Option<u32> {
    let mut more = None;
    for line in text.lines() {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "sock" => snap.socks.push(Sock(
                rest.split_whitespace()
                    .filter_map(|w| w.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )),
            "counter" | "fault" => {
                if let Some((n, v)) = rest.split_once(' ') {
                    let v = v.trim().parse().unwrap_or(0);
                    let list = if kind == "counter" {
                        &mut snap.counters
                    } else {
                        &mut snap.faults
                    };
                    list.push((n.to_string(), v));
                }
            }
            "faults" => snap.fault_spec = Some(rest.to_string()),
            "service" => {
                snap.service = rest
                    .split_whitespace()
                    .filter_map(|w| w.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
                    .collect()
            }
            "more" => more = rest.trim().parse().ok(),
            _ => {}
        }
    }
    more
}

/// One process's hold on a socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub comm: String,
    pub pid: u32,
    pub fd: u32,
}

/// Every process's socket fds, by inode (`socket:[INO]` in /proc/PID/fd).
pub fn owners() -> HashMap<u64, Vec<Owner>> {
    let mut map: HashMap<u64, Vec<Owner>> = HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return map;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let mut comm = None;
        for f in fds.flatten() {
            let Some(fd) = f.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(target) = std::fs::read_link(f.path()) else {
                continue;
            };
            let Some(ino) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            else {
                continue;
            };
            let comm = comm
                .get_or_insert_with(|| {
                    std::fs::read_to_string(p.path().join("comm"))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default()
                })
                .clone();
            map.entry(ino).or_default().push(Owner { comm, pid, fd });
        }
    }
    map
}

/// Linux's TCP state numbers (TCP_INFO's tcpi_state) as ss names them.
pub fn state_name(proto: &str, state: u64, remote: &str) -> &'static str {
    if proto == "udp" {
        return if remote == "*" { "UNCONN" } else { "ESTAB" };
    }
    match state {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "UNCONN",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

fn fetch(svc: &mut Service) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    let mut skip = 0;
    loop {
        let text = svc.call(&proto::Request::Stat { skip })?;
        match parse(&String::from_utf8_lossy(&text), &mut snap) {
            Some(next) if next > skip => skip = next,
            _ => return Ok(snap),
        }
        // A page stops before the counters: take only the last page's.
        snap.counters.clear();
        snap.faults.clear();
        snap.service.clear();
    }
}

fn users(os: &[Owner]) -> String {
    let list: Vec<String> = os
        .iter()
        .map(|o| format!("(\"{}\",pid={},fd={})", o.comm, o.pid, o.fd))
        .collect();
    format!("users:({})", list.join(","))
}

/// The `ss -tinp`-like table and the nonzero counters.
pub fn render_table(snap: &Snapshot, own: &HashMap<u64, Vec<Owner>>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5} {:<10} {:>7} {:>7} {:<21} {:<21} Process",
        "Proto", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
    );
    for s in &snap.socks {
        let proto = s.get("proto");
        let remote = s.get("remote");
        let os = own.get(&s.num("ino")).map(|v| v.as_slice()).unwrap_or(&[]);
        // netstat's names: tcp6/udp6 for an AF_INET6 socket.
        let shown = match s.get("family") {
            "inet6" => format!("{proto}6"),
            _ => proto.to_string(),
        };
        let _ = writeln!(
            out,
            "{:<5} {:<10} {:>7} {:>7} {:<21} {:<21} {}",
            shown,
            state_name(proto, s.num("state"), remote),
            s.num("recvq"),
            s.num("sendq"),
            s.get("local"),
            remote,
            if os.is_empty() {
                String::new()
            } else {
                users(os)
            }
        );
        if proto == "tcp" && !s.get("cwnd").is_empty() && s.num("listening") == 0 {
            let _ = writeln!(
                out,
                "\t cwnd:{} ssthresh:{} mss:{} rtt:{:.3}/{:.3} rto:{} retrans:{}/{} \
                 bytes_acked:{} bytes_received:{} unsent:{}",
                s.num("cwnd"),
                s.num("ssthresh"),
                s.num("mss"),
                s.num("rtt_us") as f64 / 1000.0,
                s.num("rttvar_us") as f64 / 1000.0,
                s.num("rto_us") / 1000,
                s.num("retrans"),
                s.num("total_retrans"),
                s.num("bytes_acked"),
                s.num("bytes_received"),
                s.num("unsent"),
            );
        }
        if !s.get("refs").is_empty() {
            // ss -m's skmem and ss -o's timer, and the references.
            let timers = s.get("timers");
            let _ = writeln!(
                out,
                "\t skmem:(r{},rb{},t{},tb{}) refs:{}{} timer:({})",
                s.num("rmem"),
                s.num("rcvbuf"),
                s.num("wmem"),
                s.num("sndbuf"),
                s.num("refs"),
                if s.num("queued") == 1 { " queued" } else { "" },
                if timers.is_empty() || timers == "-" {
                    "off".to_string()
                } else {
                    timers.replace(':', " ").replace(',', "ms,") + "ms"
                },
            );
        }
    }
    if !snap.service.is_empty() {
        let w: Vec<String> = snap
            .service
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "\nService: {}", w.join(" "));
    }
    let _ = writeln!(out, "\nCounters (nonzero):");
    for (n, v) in snap.counters.iter().filter(|(_, v)| *v != 0) {
        let _ = writeln!(out, "{n:<28} {v}");
    }
    if let Some(spec) = &snap.fault_spec {
        let _ = writeln!(out, "\nFaults (SOCKSHIM_FAULTS={spec}):");
        for (n, v) in &snap.faults {
            let _ = writeln!(out, "{n:<28} {v}");
        }
    }
    out
}

fn jstr(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// One JSON object: {"sockets": [...], "service": {...}, "counters": {...},
/// "faults": {...}}.
pub fn render_json(snap: &Snapshot, own: &HashMap<u64, Vec<Owner>>) -> String {
    let socks: Vec<String> = snap
        .socks
        .iter()
        .map(|s| {
            let mut f: Vec<String> =
                s.0.iter()
                    .map(|(k, v)| match v.parse::<u64>() {
                        Ok(n) => format!("{}:{n}", jstr(k)),
                        Err(_) => format!("{}:{}", jstr(k), jstr(v)),
                    })
                    .collect();
            f.push(format!(
                "\"state_name\":{}",
                jstr(state_name(s.get("proto"), s.num("state"), s.get("remote")))
            ));
            let os = own.get(&s.num("ino")).map(|v| v.as_slice()).unwrap_or(&[]);
            let users: Vec<String> = os
                .iter()
                .map(|o| {
                    format!(
                        "{{\"comm\":{},\"pid\":{},\"fd\":{}}}",
                        jstr(&o.comm),
                        o.pid,
                        o.fd
                    )
                })
                .collect();
            f.push(format!("\"users\":[{}]", users.join(",")));
            format!("{{{}}}", f.join(","))
        })
        .collect();
    let kv = |l: &[(String, u64)]| {
        l.iter()
            .map(|(k, v)| format!("{}:{v}", jstr(k)))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{{\"sockets\":[{}],\"service\":{{{}}},\"counters\":{{{}}},\"faults\":{{{}}}}}",
        socks.join(","),
        kv(&snap.service),
        kv(&snap.counters),
        kv(&snap.faults)
    )
}

pub fn stat(tun: &str, watch: bool, json: bool, interval: Duration) -> i32 {
    let mut svc = match Service::connect(tun) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sockshim stat: {e}");
            return 1;
        }
    };
    loop {
        let snap = match fetch(&mut svc) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("sockshim stat: {e}");
                return 1;
            }
        };
        let own = owners();
        let text = if json {
            render_json(&snap, &own) + "\n"
        } else {
            render_table(&snap, &own)
        };
        if watch && !json {
            print!("\x1b[H\x1b[2J{text}");
        } else {
            print!("{text}");
        }
        if !watch {
            return 0;
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "sock id=3 proto=tcp state=10 listening=1 local=10.7.0.2:80 remote=* ino=77 recvq=0 sendq=0 unsent=0 cwnd=10 ssthresh=2147483647 mss=1460 rtt_us=0 rttvar_us=0 rto_us=1000000 retrans=0 total_retrans=0 bytes_acked=0 bytes_received=0\n\
sock id=5 proto=tcp state=1 listening=0 local=10.7.0.2:80 remote=10.7.0.1:4000 ino=78 recvq=0 sendq=0 unsent=0 cwnd=10 ssthresh=7 mss=1448 rtt_us=50 rttvar_us=25 rto_us=200000 retrans=0 total_retrans=2 bytes_acked=1 bytes_received=16\n\
sock id=4 family=inet6 proto=udp state=0 listening=0 local=[::]:53 remote=* ino=0 recvq=5 sendq=0 unsent=0\n\
sock id=6 proto=tcp state=1 listening=0 local=10.7.0.2:80 remote=10.7.0.1:4001 ino=0 recvq=0 sendq=0 unsent=0 refs=1 held=0 queued=1 rmem=256 rcvbuf=131072 wmem=0 sndbuf=16384 timers=rexmt:200,keep:7199000\n\
service held=2 sockets=4 clients=1 refs_mismatch=0\n\
counter frames_in 12\ncounter drop_checksum 0\nfault inbound.lost 3\nfaults loss=0.01\n";

    #[test]
    fn table_and_json_show_sockets_owners_and_counters() {
        let mut snap = Snapshot::default();
        assert_eq!(parse(TEXT, &mut snap), None);
        assert_eq!(parse("more 300\n", &mut Snapshot::default()), Some(300));
        let mut own = HashMap::new();
        own.insert(
            77,
            vec![Owner {
                comm: "nginx".into(),
                pid: 42,
                fd: 6,
            }],
        );
        let t = render_table(&snap, &own);
        assert!(t.contains("LISTEN"), "{t}");
        assert!(t.contains("users:((\"nginx\",pid=42,fd=6))"), "{t}");
        assert!(t.contains("rto:200 retrans:0/2"), "{t}");
        assert_eq!(
            t.matches("cwnd:").count(),
            1,
            "no TCP_INFO line for a listener: {t}"
        );
        assert!(
            t.contains("udp6  UNCONN") && t.contains("[::]:53") && t.contains("frames_in"),
            "{t}"
        );
        assert!(!t.contains("drop_checksum"), "zero counters hidden: {t}");
        assert!(t.contains("inbound.lost"), "{t}");
        assert!(
            t.contains(
                "skmem:(r256,rb131072,t0,tb16384) refs:1 queued timer:(rexmt 200ms,keep 7199000ms)"
            ),
            "{t}"
        );
        assert!(
            t.contains("Service: held=2 sockets=4 clients=1 refs_mismatch=0"),
            "{t}"
        );
        let j = render_json(&snap, &own);
        assert!(
            j.starts_with("{\"sockets\":[{\"id\":3,\"proto\":\"tcp\""),
            "{j}"
        );
        assert!(
            j.contains("\"users\":[{\"comm\":\"nginx\",\"pid\":42,\"fd\":6}]"),
            "{j}"
        );
        assert!(
            j.contains("\"drop_checksum\":0") && j.contains("\"inbound.lost\":3"),
            "{j}"
        );
        assert!(
            j.contains("\"service\":{\"held\":2,\"sockets\":4,\"clients\":1,\"refs_mismatch\":0}"),
            "{j}"
        );
        assert!(j.contains("\"timers\":\"rexmt:200,keep:7199000\""), "{j}");
        assert_eq!(jstr("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
    }

    #[test]
    fn owners_finds_our_own_socket() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let ino = std::fs::read_link(format!("/proc/self/fd/{}", s.as_raw_fd()))
            .unwrap()
            .to_str()
            .unwrap()
            .trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse::<u64>()
            .unwrap();
        let own = owners();
        let o = &own[&ino];
        assert!(o
            .iter()
            .any(|o| o.pid == std::process::id() && o.fd == s.as_raw_fd() as u32));
    }
}
