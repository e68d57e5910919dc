//! `sockshim stat`'s answer: the stack's sockets (IPv4 and IPv6) and counters as lines of
//! `key=value` words, which the CLI turns into a table or JSON. One line
//! per socket, `sock ...`, then `service ...` (what the service holds,
//! and how many sockets break the reference rule below), then
//! `counter NAME VALUE` and, with
//! SOCKSHIM_FAULTS, `fault DIRECTION.NAME VALUE`; a reply that could not
//! hold every socket ends with `more SKIP` (ask again from there).
//! Addresses and TCP_INFO come from the stack (`Stack::socket_table`); `ino`
//! is the inode of the program's end of the socket's anchor, by which the
//! CLI finds the owning pids and fds in /proc (none for a socket no program
//! holds: TIME_WAIT, a connection not yet accepted).
//!
//! The reference rule checked here: the service holds one `so_count`
//! reference per socket with an anchor (every descriptor of every client
//! shares it; the socket is closed when the anchor's last descriptor
//! goes), a listen-queue entry holds one, and no call is in progress
//! between two requests. So `refs == held + queued` for every socket;
//! `refs_mismatch` counts the sockets where it is not so.

use std::fmt::Write;

use stack::faults::{DeviceFaults, FaultCounters};
use stack::SockType;

use crate::core::Core;

/// Room left for the counters after the socket lines.
const BUDGET: usize = proto::MAX_DATA - 4096;

pub fn stat_text(core: &Core, clients: usize, faults: Option<&DeviceFaults>, skip: u32) -> Vec<u8> {
    let mut out = String::new();
    let rows = core.stack.socket_table(core.clock);
    let held = |id| core.anchor_inode(id).is_some();
    let mismatch = rows
        .iter()
        .filter(|r| r.refs != held(r.handle.as_u64()) as u32 + r.queued as u32)
        .count();
    for (i, r) in rows.iter().enumerate().skip(skip as usize) {
        if out.len() > BUDGET {
            let _ = writeln!(out, "more {i}");
            break;
        }
        let id = r.handle.as_u64();
        let proto = match r.ty {
            SockType::Stream => "tcp",
            SockType::Dgram => "udp",
        };
        let _ = write!(
            out,
            "sock id={id} family={} proto={proto} state={} listening={} local={} remote={} \
             ino={} recvq={} sendq={} unsent={} refs={} held={} queued={} \
             rmem={} rcvbuf={} wmem={} sndbuf={} timers={}",
            if r.local.is_ipv4() { "inet" } else { "inet6" },
            r.info.tcp_state,
            r.info.listening as u8,
            r.local,
            r.remote.map_or_else(|| "*".to_string(), |a| a.to_string()),
            core.anchor_inode(id).unwrap_or(0),
            r.info.rcv_cc,
            r.info.snd_cc,
            r.info.snd_unsent,
            r.refs,
            held(id) as u8,
            r.queued as u8,
            r.rmem_alloc,
            r.rcvbuf,
            r.wmem_alloc,
            r.sndbuf,
            timers(&r.timers),
        );
        if let Some(t) = &r.tcp {
            let _ = write!(
                out,
                " cwnd={} ssthresh={} mss={} rtt_us={} rttvar_us={} rto_us={} \
                 retrans={} total_retrans={} bytes_acked={} bytes_received={}",
                t.tcpi_snd_cwnd,
                t.tcpi_snd_ssthresh,
                t.tcpi_snd_mss,
                t.tcpi_rtt,
                t.tcpi_rttvar,
                t.tcpi_rto,
                t.tcpi_retransmits,
                t.tcpi_total_retrans,
                t.tcpi_bytes_acked,
                t.tcpi_bytes_received,
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "service held={} sockets={} clients={clients} refs_mismatch={mismatch}",
        core.open_sockets(),
        rows.len(),
    );
    for (name, v) in core.stack.stats().fields() {
        let _ = writeln!(out, "counter {name} {v}");
    }
    // The service's own: posts (requests without a reply) it could not
    // carry out (core.rs), each a send or option the program lost.
    let _ = writeln!(out, "counter posts_refused {}", core.posts_refused);
    if let Some(f) = faults {
        let (i, o) = f.counters();
        for (dir, c) in [("inbound", i), ("outbound", o)] {
            let FaultCounters {
                pushed,
                lost,
                duplicated,
                reordered,
                corrupted,
            } = c;
            for (name, v) in [
                ("frames", pushed),
                ("lost", lost),
                ("duplicated", duplicated),
                ("reordered", reordered),
                ("corrupted", corrupted),
            ] {
                let _ = writeln!(out, "fault {dir}.{name} {v}");
            }
        }
        let _ = writeln!(out, "faults {}", f.spec());
    }
    out.into_bytes()
}

/// `rexmt:200,keep:7199800` (milliseconds left, earliest first), or `-`.
fn timers(t: &[(&str, std::time::Duration)]) -> String {
    if t.is_empty() {
        return "-".into();
    }
    let v: Vec<String> = t
        .iter()
        .map(|(n, d)| format!("{n}:{}", d.as_millis()))
        .collect();
    v.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_sockets_then_counters() {
        let core = Core::new(stack::Stack::new(stack::Config::new(
            std::net::Ipv4Addr::new(10, 7, 0, 2),
            24,
        )));
        let h = core.stack.socket(SockType::Stream, 0).unwrap();
        core.stack
            .bind(h, "10.7.0.2:80".parse::<std::net::SocketAddr>().unwrap())
            .unwrap();
        core.stack.listen(h, 8).unwrap();
        let t = String::from_utf8(stat_text(&core, 1, None, 0)).unwrap();
        let first = t.lines().next().unwrap();
        assert!(
            first.starts_with(&format!(
                "sock id={} family=inet proto=tcp state=10 listening=1 local=10.7.0.2:80 remote=*",
                h.as_u64()
            )),
            "{first}"
        );
        assert!(t.contains("\ncounter frames_in 0\n"), "{t}");
        // Not held by the service (made straight on its stack here): its
        // one reference breaks the rule, and the line says so.
        assert!(first.contains(" refs=1 held=0 queued=0 "), "{first}");
        assert!(first.contains(" timers=- "), "{first}");
        assert!(
            t.contains("\nservice held=0 sockets=1 clients=1 refs_mismatch=1\n"),
            "{t}"
        );
        assert!(!t.contains("fault"));
        let spec = stack::faults::FaultSpec::parse("loss=0.5").unwrap();
        let f = DeviceFaults::new(spec);
        let t = String::from_utf8(stat_text(&core, 1, Some(&f), 1)).unwrap();
        assert!(!t.contains("sock "), "skip 1 of 1: {t}");
        assert!(
            t.contains("fault inbound.lost 0\n") && t.contains("faults loss=0.5,"),
            "{t}"
        );
    }
}
