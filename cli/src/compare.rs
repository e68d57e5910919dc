//! `sockshim compare -- CMD ARGS`: run CMD twice, once on the kernel's
//! sockets under `strace -f -e trace=network` and once under the shim with
//! SOCKSHIM_TRACE, and print the first call on an AF_INET socket where the
//! two differ, with both sides' lines, or "same".
//!
//! Both runs see the same addresses: the shim run is CMD in this namespace
//! as the stack's host (10.7.0.2 by default) behind the TUN device; the
//! kernel run is CMD in a namespace of its own joined to this one by a veth
//! pair, where the kernel gives it the same address and this namespace
//! routes that one address over the veth for the run (the TUN device's
//! kernel side, 10.7.0.1, stays the peer either way).
//!
//! What is compared: every traced call on a socket made by socket(AF_INET)
//! or socket(AF_INET6) or accepted from one (the kernel run has only the
//! IPv4 address), with descriptors numbered by order of appearance,
//! ephemeral ports (>= 32768) blanked, the data of sends and receives left
//! out, consecutive successful sends (or receives) on one socket summed
//! (segmentation is timing), and EAGAIN results dropped (so is polling).

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::netns;
use crate::run::{find_lib, ld_preload, parse_cidr};

pub struct CompareOpts {
    pub tun: String,
    pub addr: Option<String>,
    pub lib: Option<PathBuf>,
    /// Keep both traces here (DIR/kernel.txt, DIR/shim.txt).
    pub keep: Option<PathBuf>,
    pub cmd: Vec<OsString>,
}

/// One compared call: the normalised form and the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub key: String,
    pub line: String,
}

const SEND: &[&str] = &["sendto", "sendmsg", "send", "sendmmsg", "write", "writev"];
const RECV: &[&str] = &["recvfrom", "recvmsg", "recv", "recvmmsg", "read", "readv"];

/// "name(args) = result": (name, args, result), or None for strace's
/// other lines (signals, exits, unfinished/resumed halves).
fn split(line: &str) -> Option<(&str, &str, &str)> {
    if line.contains("<unfinished") || line.contains("resumed>") {
        return None;
    }
    let open = line.find('(')?;
    let name = &line[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let eq = line.rfind(") = ")?;
    Some((name, &line[open + 1..eq], line[eq + 4..].trim()))
}

/// Drop strace's "PID " or our "[pid N] " prefix.
fn strip_pid(line: &str) -> &str {
    let l = line.trim_start();
    if let Some(rest) = l.strip_prefix("[pid ") {
        return rest.split_once("] ").map_or(rest, |(_, r)| r);
    }
    match l.split_once(' ') {
        // strace -f pads the pid with spaces: "302   socket(...)".
        Some((p, rest)) if p.bytes().all(|b| b.is_ascii_digit()) => rest.trim_start(),
        _ => l,
    }
}

fn blank_ports(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("htons(") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let end = rest.find(')').unwrap_or(rest.len());
        match rest[..end].parse::<u32>() {
            Ok(p) if p >= 32768 => out.push('*'),
            _ => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The compared calls of one trace.
pub fn calls(text: &str) -> Vec<Call> {
    let mut inet: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Call> = Vec::new();
    // The last entry's (kind, socket) when it was a summed send/receive.
    let mut run: Option<(bool, usize, u64)> = None;
    for raw in text.lines() {
        let line = strip_pid(raw);
        let Some((name, args, result)) = split(line) else {
            continue;
        };
        let fd = args
            .split([',', ')'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if name == "socket" {
            let is_inet = args.starts_with("AF_INET,") || args.starts_with("AF_INET6,");
            if is_inet && result.parse::<i64>().is_ok_and(|r| r >= 0) {
                let n = inet.len() + 1;
                inet.insert(result.to_string(), n);
                out.push(Call {
                    key: format!(
                        "socket({}) = s{n}",
                        &args[args.find(' ').unwrap_or(0)..].trim()
                    ),
                    line: line.to_string(),
                });
                run = None;
            } else {
                inet.remove(result);
            }
            continue;
        }
        let Some(&sock) = inet.get(&fd) else {
            continue;
        };
        if result.starts_with("-1 EAGAIN") {
            continue;
        }
        let send = SEND.contains(&name);
        let recv = RECV.contains(&name);
        if send || recv {
            if let Ok(n) = result.parse::<u64>() {
                if n > 0 {
                    if let Some((k, s, total)) = run.as_mut() {
                        if *k == send && *s == sock {
                            *total += n;
                            let dir = if send { "send" } else { "recv" };
                            let last = out.last_mut().expect("a run has its entry");
                            last.key = format!("{dir}(s{sock}) = {total} bytes");
                            continue;
                        }
                    }
                    run = Some((send, sock, n));
                    let dir = if send { "send" } else { "recv" };
                    out.push(Call {
                        key: format!("{dir}(s{sock}) = {n} bytes"),
                        line: line.to_string(),
                    });
                    continue;
                }
            }
            run = None;
            let dir = if send { "send" } else { "recv" };
            out.push(Call {
                key: format!("{dir}(s{sock}) = {result}"),
                line: line.to_string(),
            });
            continue;
        }
        run = None;
        let rest = &args[fd.len()..];
        let mut key = format!("{name}(s{sock}{}) = {result}", blank_ports(rest));
        if name.starts_with("accept") {
            if let Ok(r) = result.parse::<i64>() {
                if r >= 0 {
                    let n = inet.len() + 1;
                    inet.insert(result.to_string(), n);
                    key = format!("{name}(s{sock}{}) = s{n}", blank_ports(rest));
                }
            }
        }
        out.push(Call {
            key,
            line: line.to_string(),
        });
    }
    out
}

/// The first index where the two lists differ (None: the same).
pub fn first_divergence(k: &[Call], s: &[Call]) -> Option<usize> {
    (0..k.len().max(s.len())).find(|&i| k.get(i).map(|c| &c.key) != s.get(i).map(|c| &c.key))
}

fn kernel_side(tun: &str) -> Result<Ipv4Addr, String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", tun])
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| parse_cidr(a).ok())
        .map(|(a, _)| a)
        .ok_or_else(|| {
            format!(
                "no device '{tun}' with an IPv4 address in this namespace: run inside the \
                 project's namespace (sockshim netns up NAME; ip netns exec NAME sockshim compare ...)"
            )
        })
}

/// The kernel run's namespace and veth; removed on drop.
struct Topology {
    ns: String,
    veth: String,
}

impl Topology {
    fn make(ours: Ipv4Addr, len: u8, peer: Ipv4Addr) -> Result<Topology, String> {
        let id = std::process::id();
        let t = Topology {
            ns: format!("sscmp-{id}"),
            veth: format!("sscmp{}", id % 1_000_000),
        };
        let peer_end = "sscmp-b";
        netns::ip(&["netns", "add", &t.ns])?;
        let ours_cidr = format!("{ours}/{len}");
        let steps: Vec<Vec<&str>> = vec![
            vec![
                "link", "add", &t.veth, "type", "veth", "peer", "name", peer_end, "netns", &t.ns,
            ],
            vec!["link", "set", &t.veth, "up"],
            vec!["-n", &t.ns, "link", "set", "lo", "up"],
            vec!["-n", &t.ns, "addr", "add", &ours_cidr, "dev", peer_end],
            vec!["-n", &t.ns, "link", "set", peer_end, "up"],
        ];
        for s in &steps {
            netns::ip(s)?;
        }
        let host = format!("{ours}/32");
        netns::ip(&["route", "add", &host, "dev", &t.veth])?;
        let gw = peer.to_string();
        netns::ip(&["-n", &t.ns, "route", "add", "default", "via", &gw])?;
        // Until both ends are up, the first frames go nowhere.
        for _ in 0..200 {
            let out = Command::new("ip")
                .args(["-n", &t.ns, "-o", "link", "show", peer_end])
                .output()
                .map_err(|e| e.to_string())?;
            if String::from_utf8_lossy(&out.stdout).contains("LOWER_UP") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(t)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = netns::ip(&["link", "del", &self.veth]);
        let _ = netns::down(&self.ns);
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn compare(o: CompareOpts) -> i32 {
    match run(&o) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("sockshim compare: {e}");
            2
        }
    }
}

fn run(o: &CompareOpts) -> Result<bool, String> {
    let lib = find_lib(o.lib.as_deref())?;
    let (ours, len) = parse_cidr(o.addr.as_deref().unwrap_or("10.7.0.2/24"))?;
    let peer = kernel_side(&o.tun)?;
    if Command::new("strace").arg("-V").output().is_err() {
        return Err("strace not found: install it (apt-get install strace)".into());
    }
    let dir = match &o.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            d.clone()
        }
        None => std::env::temp_dir().join(format!("sockshim-compare-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (kfile, sfile) = (dir.join("kernel.txt"), dir.join("shim.txt"));
    let _ = std::fs::remove_file(&kfile);
    let _ = std::fs::remove_file(&sfile);

    eprintln!("sockshim compare: kernel run (strace, veth, {ours} -> {peer})");
    {
        let topo = Topology::make(ours, len, peer)?;
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &topo.ns,
                "strace",
                "-f",
                "-qq",
                "-e",
                "trace=network",
                "-o",
            ])
            .arg(&kfile)
            .arg("--")
            .args(&o.cmd)
            .status()
            .map_err(|e| format!("cannot run strace: {e}"))?;
        eprintln!("sockshim compare: kernel run exited with {st}");
    }
    eprintln!("sockshim compare: shim run (SOCKSHIM_TRACE, {})", o.tun);
    let st = Command::new(&o.cmd[0])
        .args(&o.cmd[1..])
        .env(
            "LD_PRELOAD",
            ld_preload(&lib, std::env::var_os("LD_PRELOAD").as_deref()),
        )
        .env("SOCKSHIM_TUN", &o.tun)
        .env("SOCKSHIM_ADDR", format!("{ours}/{len}"))
        .env("SOCKSHIM_GATEWAY", peer.to_string())
        .env("SOCKSHIM_TRACE", &sfile)
        .status()
        .map_err(|e| format!("{}: {e}", o.cmd[0].to_string_lossy()))?;
    eprintln!("sockshim compare: shim run exited with {st}");

    let (k, s) = (calls(&read(&kfile)), calls(&read(&sfile)));
    let same = match first_divergence(&k, &s) {
        None => {
            println!("same ({} calls on AF_INET/AF_INET6 sockets)", k.len());
            true
        }
        Some(i) => {
            println!(
                "first divergence at call {} on AF_INET/AF_INET6 sockets:",
                i + 1
            );
            let show =
                |c: Option<&Call>| c.map_or("(no more calls)".to_string(), |c| c.line.clone());
            println!("  kernel: {}", show(k.get(i)));
            println!("  shim:   {}", show(s.get(i)));
            false
        }
    };
    if o.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("sockshim compare: traces in {}", dir.display());
    }
    Ok(same)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "\
4242 socketpair(AF_UNIX, SOCK_STREAM, 0, [3, 4]) = 0
4242 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 5
4242 setsockopt(5, SOL_TCP, TCP_NODELAY, [1], 4) = 0
4242 connect(5, {sa_family=AF_INET, sin_port=htons(8000), sin_addr=inet_addr(\"10.7.0.1\")}, 16) = -1 EINPROGRESS (Operation now in progress)
4242 getsockopt(5, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
4242 getsockname(5, {sa_family=AF_INET, sin_port=htons(40000), sin_addr=inet_addr(\"10.7.0.2\")}, [16]) = 0
4242 sendto(5, \"GET / HTTP/1.1\\r\\n\"..., 77, MSG_NOSIGNAL, NULL, 0) = 77
4242 recvfrom(5, \"HTTP/1.0 200 OK\"..., 102400, 0, NULL, NULL) = 100
4242 recvfrom(5, \"body\"..., 102400, 0, NULL, NULL) = 50
4242 recvfrom(5, 0x5555, 102400, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)
4242 recvfrom(5, \"\", 102400, 0, NULL, NULL) = 0
4242 +++ exited with 0 +++
";

    fn shim_side(so_error: u32) -> String {
        format!(
            "[pid 7] socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 5
[pid 7] setsockopt(5, SOL_TCP, TCP_NODELAY, [1], 4) = 0
[pid 7] connect(5, {{sa_family=AF_INET, sin_port=htons(8000), sin_addr=inet_addr(\"10.7.0.1\")}}, 16) = -1 EINPROGRESS (Operation now in progress)
[pid 7] getsockopt(5, SOL_SOCKET, SO_ERROR, [{so_error}], [4]) = 0
[pid 7] getsockname(5, {{sa_family=AF_INET, sin_port=htons(51234), sin_addr=inet_addr(\"10.7.0.2\")}}, [16]) = 0
[pid 7] sendto(5, \"GET / HTTP/1.1\\r\\n\"..., 77, MSG_NOSIGNAL, NULL, 0) = 77
[pid 7] recvfrom(5, \"HTTP/1.0 200 OK\"..., 102400, 0, NULL, NULL) = 150
[pid 7] recvfrom(5, \"\", 102400, 0, NULL, NULL) = 0
"
        )
    }

    #[test]
    fn same_calls_modulo_ports_segmentation_and_eagain() {
        let k = calls(KERNEL);
        let s = calls(&shim_side(0));
        assert_eq!(k.len(), 8, "{k:#?}");
        assert_eq!(first_divergence(&k, &s), None, "{k:#?} {s:#?}");
        assert_eq!(k[6].key, "recv(s1) = 150 bytes");
    }

    #[test]
    fn a_different_result_is_the_first_divergence() {
        let k = calls(KERNEL);
        let s = calls(&shim_side(111));
        let i = first_divergence(&k, &s).unwrap();
        assert!(k[i]
            .line
            .starts_with("getsockopt(5, SOL_SOCKET, SO_ERROR, [0]"));
        assert!(s[i].line.contains("[111]"));
        let short = calls("[pid 1] socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n");
        assert_eq!(first_divergence(&k, &short), Some(1));
    }

    #[test]
    fn strace_pid_prefixes_padded_with_spaces_are_read() {
        // strace -f -o FILE writes "PID   call" once the tracee has threads.
        let padded = calls(
            "302   socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 5\n\
             302   connect(5, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"10.7.0.1\")}, 16) = 0\n",
        );
        let bracketed = calls(
            "[pid 9] socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 5\n\
             [pid 9] connect(5, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"10.7.0.1\")}, 16) = 0\n",
        );
        assert_eq!(padded.len(), 2);
        assert_eq!(first_divergence(&padded, &bracketed), None);
    }
}
