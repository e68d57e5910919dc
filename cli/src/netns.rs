//! `sockshim netns up|down`: the project's network namespace with its TUN
//! device, made with iproute2's `ip` (the one implementation: scripts/netns-up
//! and netns-down call it). Up: namespace NAME, `lo` up, a persistent TUN
//! device (no packet-info header, a queue of 10,000 frames) whose kernel
//! side has the given address and fd00:7::1/64 (without duplicate address
//! detection, so it is usable at once) and no router solicitations.
//! Down: kill what still runs in NAME and delete it. Both are idempotent.

use std::process::{Command, Stdio};

/// The kernel side of the device unless told otherwise.
pub const KERNEL_ADDR: &str = "10.7.0.1/24";
/// The kernel side's IPv6 address (the shim's default gateway6).
pub const KERNEL_ADDR6: &str = "fd00:7::1/64";
pub const DEFAULT_TUN: &str = "sockshim0";
/// The device's queue towards the stack (`txqueuelen`: frames the kernel
/// sends that the stack has not read yet). A TUN device's default of 500
/// is its whole receive ring: 10,000 connections closed at once overflowed
/// it (14,000 FINs and ACKs dropped, each FIN retransmitted after an RTO:
/// teardown took 3.9 s, not 1.2; issue 18). A NIC's rings and the
/// kernel's backlog absorb such a burst; this does too.
pub const TUN_TXQUEUELEN: &str = "10000";

pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip ({e}): install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Is there a namespace called `name` (`ip netns list`, first word of a line)?
pub fn exists(name: &str) -> Result<bool, String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip ({e}): install iproute2"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name)))
}

/// Create (or complete) namespace `name` with TUN device `dev` at `kernel_addr`.
/// Returns whether the namespace itself was created now.
pub fn up(name: &str, dev: &str, kernel_addr: &str) -> Result<bool, String> {
    validate(name)?;
    let created = !exists(name)?;
    if created {
        ip(&["netns", "add", name])?;
    }
    ip(&["-n", name, "link", "set", "lo", "up"])?;
    if ip(&["-n", name, "link", "show", dev]).is_err() {
        ip(&["-n", name, "tuntap", "add", "dev", dev, "mode", "tun"])?;
    }
    ip(&["-n", name, "link", "set", dev, "txqueuelen", TUN_TXQUEUELEN])?;
    ip(&["-n", name, "addr", "replace", kernel_addr, "dev", dev])?;
    // IPv6 may be disabled in the namespace (disable_ipv6): IPv4 still works.
    let v6 = [
        "-n",
        name,
        "addr",
        "replace",
        KERNEL_ADDR6,
        "dev",
        dev,
        "nodad",
    ];
    if let Err(e) = ip(&v6) {
        eprintln!("sockshim netns up: {name}: no IPv6 on {dev}: {e}");
    } else if let Err(e) = no_router_solicitations(name, dev) {
        eprintln!("sockshim netns up: {name}: {e}");
    }
    ip(&["-n", name, "link", "set", dev, "up"])?;
    Ok(created)
}

/// Stop the kernel soliciting routers on `dev` (net.ipv6.conf.DEV.
/// router_solicitations = 0). Each time a process attaches, the kernel
/// starts sending IPv6 router solicitations from the device's link-local
/// address, 4 s, 8 s, 16 s ... apart; in process mode one that falls
/// between two processes finds no reader and is a TX drop
/// (SKB_DROP_REASON_DEV_READY in tun_net_xmit): the one drop per 100
/// process starts of the bench's attach row (issue 18). The stack is no
/// router and never answered them.
fn no_router_solicitations(name: &str, dev: &str) -> Result<(), String> {
    // The path form of the key: a device name may contain dots.
    let key = format!("net/ipv6/conf/{dev}/router_solicitations=0");
    ip(&["netns", "exec", name, "sysctl", "-q", "-w", &key])
}

/// Kill every process in `name` and delete it (and its TUN devices).
pub fn down(name: &str) -> Result<(), String> {
    validate(name)?;
    if !exists(name)? {
        return Ok(());
    }
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .map(String::from)
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-9")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
    }
    ip(&["netns", "del", name])
}

/// A name `ip netns` accepts and that cannot be read as an option or a path.
fn validate(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad namespace name {name:?}: letters, digits, '-', '_', '.'"
        ))
    }
}

/// The kernel side's address for a shim address `ours/len`: the network's
/// first host, or its second when that is ours (so `--addr 10.9.0.1/24`
/// gets a kernel side of 10.9.0.2).
pub fn kernel_side(ours: std::net::Ipv4Addr, len: u8) -> Result<std::net::Ipv4Addr, String> {
    if !(1..=30).contains(&len) {
        return Err(format!("prefix /{len}: need 1..=30 for two hosts"));
    }
    let mask = u32::MAX << (32 - u32::from(len));
    let net = u32::from(ours) & mask;
    let first = net + 1;
    Ok(if first == u32::from(ours) {
        first + 1
    } else {
        first
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn kernel_side_is_the_first_host_not_ours() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(kernel_side(a("10.7.0.2"), 24), Ok(a("10.7.0.1")));
        assert_eq!(kernel_side(a("10.9.0.1"), 24), Ok(a("10.9.0.2")));
        assert_eq!(kernel_side(a("192.168.5.77"), 16), Ok(a("192.168.0.1")));
        assert!(kernel_side(a("10.0.0.1"), 31).is_err());
        assert!(kernel_side(a("10.0.0.1"), 0).is_err());
    }

    #[test]
    fn names_that_could_be_options_or_paths_are_refused() {
        for bad in ["", "-x", "../x", "a/b", "a b", ".hidden"] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        for good in ["sst-1-x", "demo_2", "n.s"] {
            assert!(validate(good).is_ok(), "{good:?}");
        }
    }
}
