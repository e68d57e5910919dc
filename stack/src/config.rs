//! Configuration of one stack instance: its interface address, route and MTU,
//! and the kernel tunables (`Sysctl`) whose values it copies from the
//! namespace's /proc/sys so programs see the same defaults as on Linux.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The Linux sysctls the stack honours. `Default` gives Linux's defaults;
/// the shim overrides them from /proc/sys with [`Sysctl::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysctl {
    /// net.ipv4.tcp_rmem: min, default, max receive buffer.
    pub tcp_rmem: [usize; 3],
    /// net.ipv4.tcp_wmem: min, default, max send buffer.
    pub tcp_wmem: [usize; 3],
    /// net.core.rmem_max / wmem_max: caps for SO_RCVBUF / SO_SNDBUF.
    pub rmem_max: usize,
    pub wmem_max: usize,
    /// net.core.rmem_default / wmem_default: UDP buffer sizes.
    pub rmem_default: usize,
    pub wmem_default: usize,
    /// net.ipv4.ip_local_port_range.
    pub port_range: (u16, u16),
    pub tcp_syn_retries: u32,
    pub tcp_synack_retries: u32,
    /// net.ipv4.tcp_syn_linear_timeouts (Linux 6.5+, default 4): the
    /// first N SYN retransmissions wait the initial RTO, not doubled, and
    /// a connect gets N more tries before ETIMEDOUT.
    pub tcp_syn_linear_timeouts: u32,
    /// net.ipv4.tcp_syncookies: 0 off, 1 when a listener's SYN queue is
    /// full, 2 always (tcp_syncookie.rs).
    pub tcp_syncookies: u8,
    pub tcp_sack: bool,
    /// net.ipv4.tcp_rfc1337: 1 keeps a TIME-WAIT connection when an RST
    /// arrives (RFC 1337's remedy for TIME-WAIT assassination); 0, Linux's
    /// default, closes it.
    pub tcp_rfc1337: bool,
    pub tcp_timestamps: bool,
    pub tcp_window_scaling: bool,
    pub tcp_fin_timeout: Duration,
    /// net.core.somaxconn: cap on a listen backlog.
    pub somaxconn: u32,
    /// net.ipv4.ip_default_ttl.
    pub ip_default_ttl: u8,
    pub tcp_keepalive_time: Duration,
    pub tcp_keepalive_intvl: Duration,
    pub tcp_keepalive_probes: u32,
    /// net.ipv6.bindv6only: IPV6_V6ONLY of a new AF_INET6 socket.
    pub bindv6only: bool,
    /// net.ipv6.conf.default.hop_limit: IPv6's default TTL.
    pub ipv6_hop_limit: u8,
    /// net.ipv4.ipfrag_time / net.ipv6.ip6frag_time: how long an
    /// incomplete datagram waits for its fragments.
    pub ipfrag_time: Duration,
    pub ip6frag_time: Duration,
    /// net.ipv4.ipfrag_high_thresh / net.ipv6.ip6frag_high_thresh: memory
    /// for fragments being reassembled.
    pub ipfrag_high_thresh: usize,
    pub ip6frag_high_thresh: usize,
    /// net.ipv4.tcp_fastopen: the TFO_* bits (1 client, 2 server, 4 client
    /// without cookie, 0x200 server without cookie, 0x400 every listener).
    pub tcp_fastopen: u32,
    /// net.ipv4.tcp_fastopen_key: the primary key as SipHash's two words
    /// (None while unset or unreadable: the stack keys cookies itself).
    pub tcp_fastopen_key: Option<[u64; 2]>,
    /// net.ipv4.tcp_congestion_control: the default algorithm's name (the
    /// stack runs CUBIC for a name it does not have, such as bbr).
    pub tcp_congestion_control: String,
    /// net.ipv4.tcp_notsent_lowat: TCP_NOTSENT_LOWAT for a socket that did
    /// not set it (Linux's tcp_notsent_lowat(); UINT_MAX, no limit, by
    /// default). The option still reads 0 there.
    pub tcp_notsent_lowat: u32,
    /// net.ipv4.icmp_ratelimit / net.ipv6.icmp.ratelimit: what one ICMP
    /// error costs a peer's bucket (icmp_ratelimit.rs; 0 turns it off).
    pub icmp_ratelimit: Duration,
    pub icmpv6_ratelimit: Duration,
    /// net.ipv4.icmp_ratemask: the ICMP types limited, one bit per type.
    pub icmp_ratemask: u32,
    /// net.ipv6.icmp.ratemask: the ICMPv6 types limited (a list of ranges
    /// in /proc, "0-1,3-127"), one bit per type.
    pub icmpv6_ratemask: [u64; 4],
    /// net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst: the stack-wide bucket
    /// of ICMP errors (both families).
    pub icmp_msgs_per_sec: u32,
    pub icmp_msgs_burst: u32,
    /// net.ipv4.tcp_ecn: 0 no ECN, 1 ask for it and answer, 2 (Linux's
    /// default) answer a peer that asks (tcp_ecn.rs; AccECN's 3-5 as 2).
    pub tcp_ecn: u8,
    /// net.ipv4.igmp_qrv: how many times a state-change report is sent.
    pub igmp_qrv: u8,
    /// net.ipv4.igmp_link_local_mcast_reports: report 224.0.0.0/24 groups.
    pub igmp_llm_reports: bool,
    /// net.ipv4.conf.default.igmpv3_unsolicited_report_interval: the
    /// longest wait before a state-change report is sent again.
    pub igmpv3_unsolicited_report_interval: Duration,
    /// net.ipv4.conf.default.igmpv2_unsolicited_report_interval: the
    /// same for IGMPv1/v2 reports (an older querier was heard).
    pub igmpv2_unsolicited_report_interval: Duration,
    /// net.ipv4.conf.default.force_igmp_version: 0 (follow the querier),
    /// 1, 2 or 3.
    pub force_igmp_version: u8,
    /// net.ipv6.mld_qrv: MLD's robustness (how many times a change is
    /// sent). Only the initial namespace has the file: elsewhere Linux's
    /// global value is used unseen, and so is the default here.
    pub mld_qrv: u8,
    /// net.ipv6.mld_max_msf: sources per IPv6 filter (initial namespace
    /// only, as mld_qrv).
    pub mld_max_msf: usize,
    /// net.ipv6.conf.default.force_mld_version: 0 (follow the querier),
    /// 1 or 2.
    pub force_mld_version: u8,
    /// net.ipv6.conf.default.mldv2_unsolicited_report_interval and
    /// mldv1_unsolicited_report_interval.
    pub mldv2_unsolicited_report_interval: Duration,
    pub mldv1_unsolicited_report_interval: Duration,
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            tcp_rmem: [4096, 131072, 6291456],
            tcp_wmem: [4096, 16384, 4194304],
            rmem_max: 212992,
            wmem_max: 212992,
            rmem_default: 212992,
            wmem_default: 212992,
            port_range: (32768, 60999),
            tcp_syn_retries: 6,
            tcp_synack_retries: 5,
            tcp_syn_linear_timeouts: 4,
            tcp_syncookies: 1,
            tcp_sack: true,
            tcp_rfc1337: false,
            tcp_timestamps: true,
            tcp_window_scaling: true,
            tcp_fin_timeout: Duration::from_secs(60),
            somaxconn: 4096,
            ip_default_ttl: 64,
            tcp_keepalive_time: Duration::from_secs(7200),
            tcp_keepalive_intvl: Duration::from_secs(75),
            tcp_keepalive_probes: 9,
            bindv6only: false,
            ipv6_hop_limit: 64,
            ipfrag_time: Duration::from_secs(30),
            ip6frag_time: Duration::from_secs(60),
            ipfrag_high_thresh: 4 << 20,
            ip6frag_high_thresh: 4 << 20,
            tcp_fastopen: 1,
            tcp_fastopen_key: None,
            tcp_congestion_control: "cubic".to_string(),
            tcp_notsent_lowat: u32::MAX,
            icmp_ratelimit: Duration::from_millis(1000),
            icmpv6_ratelimit: Duration::from_millis(100),
            icmp_ratemask: 0x1818,
            icmpv6_ratemask: [!(1 << 2), u64::MAX, 0, 0],
            icmp_msgs_per_sec: 1000,
            icmp_msgs_burst: 50,
            tcp_ecn: 2,
            igmp_qrv: 2,
            igmp_llm_reports: true,
            igmpv3_unsolicited_report_interval: Duration::from_millis(1000),
            igmpv2_unsolicited_report_interval: Duration::from_millis(10000),
            force_igmp_version: 0,
            mld_qrv: 2,
            mld_max_msf: 64,
            force_mld_version: 0,
            mldv2_unsolicited_report_interval: Duration::from_millis(1000),
            mldv1_unsolicited_report_interval: Duration::from_millis(10000),
        }
    }
}

/// The /proc/sys paths (relative to /proc/sys) that [`Sysctl::apply`] understands.
pub const SYSCTL_PATHS: &[&str] = &[
    "net/ipv4/tcp_rmem",
    "net/ipv4/tcp_wmem",
    "net/core/rmem_max",
    "net/core/wmem_max",
    "net/core/rmem_default",
    "net/core/wmem_default",
    "net/ipv4/ip_local_port_range",
    "net/ipv4/tcp_syn_retries",
    "net/ipv4/tcp_synack_retries",
    "net/ipv4/tcp_syn_linear_timeouts",
    "net/ipv4/tcp_syncookies",
    "net/ipv4/tcp_sack",
    "net/ipv4/tcp_rfc1337",
    "net/ipv4/tcp_timestamps",
    "net/ipv4/tcp_window_scaling",
    "net/ipv4/tcp_fin_timeout",
    "net/core/somaxconn",
    "net/ipv4/ip_default_ttl",
    "net/ipv4/tcp_keepalive_time",
    "net/ipv4/tcp_keepalive_intvl",
    "net/ipv4/tcp_keepalive_probes",
    "net/ipv6/bindv6only",
    "net/ipv6/conf/default/hop_limit",
    "net/ipv4/ipfrag_time",
    "net/ipv6/ip6frag_time",
    "net/ipv4/ipfrag_high_thresh",
    "net/ipv6/ip6frag_high_thresh",
    "net/ipv4/tcp_fastopen",
    "net/ipv4/tcp_fastopen_key",
    "net/ipv4/tcp_congestion_control",
    "net/ipv4/tcp_notsent_lowat",
    "net/ipv4/icmp_ratelimit",
    "net/ipv6/icmp/ratelimit",
    "net/ipv4/icmp_ratemask",
    "net/ipv6/icmp/ratemask",
    "net/ipv4/icmp_msgs_per_sec",
    "net/ipv4/icmp_msgs_burst",
    "net/ipv4/tcp_ecn",
    "net/ipv4/igmp_qrv",
    "net/ipv4/igmp_link_local_mcast_reports",
    "net/ipv4/conf/default/igmpv3_unsolicited_report_interval",
    "net/ipv4/conf/default/igmpv2_unsolicited_report_interval",
    "net/ipv4/conf/default/force_igmp_version",
    "net/ipv6/mld_qrv",
    "net/ipv6/mld_max_msf",
    "net/ipv6/conf/default/force_mld_version",
    "net/ipv6/conf/default/mldv2_unsolicited_report_interval",
    "net/ipv6/conf/default/mldv1_unsolicited_report_interval",
];

/// Linux's proc_tcp_fastopen_key text, `%08x-%08x-%08x-%08x` (a backup key
/// may follow a comma), as tcp_fastopen_reset_cipher keys SipHash: the
/// words little-endian in memory, read as two little-endian u64.
fn fastopen_key(text: &str) -> Option<Option<[u64; 2]>> {
    let primary = text.trim().split(',').next()?;
    let w: Vec<u64> = primary
        .split('-')
        .map(|x| u32::from_str_radix(x, 16).map(u64::from))
        .collect::<Result<_, _>>()
        .ok()?;
    if w.len() != 4 {
        return None;
    }
    let key = [w[0] | (w[1] << 32), w[2] | (w[3] << 32)];
    Some((key != [0, 0]).then_some(key))
}

/// A bitmap in /proc's list form ("0-1,3-127"; "" is empty), 256 bits.
fn bitmap_list(text: &str) -> Option<[u64; 4]> {
    let mut bits = [0u64; 4];
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u8>().ok()?, b.parse::<u8>().ok()?),
            None => {
                let v = part.parse::<u8>().ok()?;
                (v, v)
            }
        };
        if lo > hi {
            return None;
        }
        for b in lo..=hi {
            bits[usize::from(b / 64)] |= 1 << (b % 64);
        }
    }
    Some(bits)
}

fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

impl Sysctl {
    /// The sysctls as given by `read`, which fills a buffer with the
    /// current text of the `i`-th [`SYSCTL_PATHS`] entry (`None`: missing or
    /// unreadable, the default stays). The caller does the I/O, so the face
    /// stays sans-IO; the shim and the service each keep their files open.
    pub fn read_each(mut read: impl FnMut(usize, &mut [u8]) -> Option<usize>) -> Sysctl {
        let mut sysctl = Sysctl::default();
        let mut buf = [0u8; 256];
        for (i, path) in SYSCTL_PATHS.iter().enumerate() {
            let Some(n) = read(i, &mut buf) else { continue };
            if let Ok(text) = std::str::from_utf8(&buf[..n.min(buf.len())]) {
                sysctl.apply(path, text);
            }
        }
        sysctl
    }

    /// Apply the content of one /proc/sys file (`path` as in [`SYSCTL_PATHS`]).
    /// Returns false, changing nothing, if the path is unknown or the text
    /// does not parse; values are kept within sane bounds.
    pub fn apply(&mut self, path: &str, text: &str) -> bool {
        let n = numbers(text);
        let one = |lo: u64, hi: u64| n.first().copied().filter(|v| (lo..=hi).contains(v));
        let three = || {
            (n.len() == 3 && n[0] <= n[1] && n[1] <= n[2])
                .then(|| [n[0] as usize, n[1] as usize, n[2] as usize])
        };
        let secs = |v: u64| Duration::from_secs(v);
        match path {
            "net/ipv4/tcp_rmem" => three().map(|v| self.tcp_rmem = v).is_some(),
            "net/ipv4/tcp_wmem" => three().map(|v| self.tcp_wmem = v).is_some(),
            "net/core/rmem_max" => one(1, 1 << 31)
                .map(|v| self.rmem_max = v as usize)
                .is_some(),
            "net/core/wmem_max" => one(1, 1 << 31)
                .map(|v| self.wmem_max = v as usize)
                .is_some(),
            "net/core/rmem_default" => one(1, 1 << 31)
                .map(|v| self.rmem_default = v as usize)
                .is_some(),
            "net/core/wmem_default" => one(1, 1 << 31)
                .map(|v| self.wmem_default = v as usize)
                .is_some(),
            "net/ipv4/ip_local_port_range"
                if n.len() == 2 && n[0] >= 1 && n[0] <= n[1] && n[1] <= 65535 =>
            {
                self.port_range = (n[0] as u16, n[1] as u16);
                true
            }
            "net/ipv4/tcp_syn_retries" => one(1, 127)
                .map(|v| self.tcp_syn_retries = v as u32)
                .is_some(),
            "net/ipv4/tcp_synack_retries" => one(0, 255)
                .map(|v| self.tcp_synack_retries = v as u32)
                .is_some(),
            "net/ipv4/tcp_syn_linear_timeouts" => one(0, 127)
                .map(|v| self.tcp_syn_linear_timeouts = v as u32)
                .is_some(),
            "net/ipv4/tcp_syncookies" => one(0, 2).map(|v| self.tcp_syncookies = v as u8).is_some(),
            "net/ipv4/tcp_sack" => one(0, 1).map(|v| self.tcp_sack = v == 1).is_some(),
            "net/ipv4/tcp_rfc1337" => one(0, 1).map(|v| self.tcp_rfc1337 = v == 1).is_some(),
            "net/ipv4/tcp_timestamps" => one(0, 2).map(|v| self.tcp_timestamps = v != 0).is_some(),
            "net/ipv4/tcp_window_scaling" => one(0, 1)
                .map(|v| self.tcp_window_scaling = v == 1)
                .is_some(),
            "net/ipv4/tcp_fin_timeout" => one(1, 3600)
                .map(|v| self.tcp_fin_timeout = secs(v))
                .is_some(),
            "net/core/somaxconn" => one(0, 1 << 20).map(|v| self.somaxconn = v as u32).is_some(),
            "net/ipv4/ip_default_ttl" => {
                one(1, 255).map(|v| self.ip_default_ttl = v as u8).is_some()
            }
            "net/ipv4/tcp_keepalive_time" => one(1, 1 << 20)
                .map(|v| self.tcp_keepalive_time = secs(v))
                .is_some(),
            "net/ipv4/tcp_keepalive_intvl" => one(1, 1 << 20)
                .map(|v| self.tcp_keepalive_intvl = secs(v))
                .is_some(),
            "net/ipv4/tcp_keepalive_probes" => one(1, 127)
                .map(|v| self.tcp_keepalive_probes = v as u32)
                .is_some(),
            "net/ipv6/bindv6only" => one(0, 1).map(|v| self.bindv6only = v == 1).is_some(),
            "net/ipv6/conf/default/hop_limit" => {
                one(1, 255).map(|v| self.ipv6_hop_limit = v as u8).is_some()
            }
            "net/ipv4/ipfrag_time" => one(1, 3600).map(|v| self.ipfrag_time = secs(v)).is_some(),
            "net/ipv6/ip6frag_time" => one(1, 3600).map(|v| self.ip6frag_time = secs(v)).is_some(),
            "net/ipv4/ipfrag_high_thresh" => one(0, 1 << 31)
                .map(|v| self.ipfrag_high_thresh = v as usize)
                .is_some(),
            "net/ipv6/ip6frag_high_thresh" => one(0, 1 << 31)
                .map(|v| self.ip6frag_high_thresh = v as usize)
                .is_some(),
            "net/ipv4/tcp_fastopen" => one(0, u32::MAX as u64)
                .map(|v| self.tcp_fastopen = v as u32)
                .is_some(),
            "net/ipv4/tcp_congestion_control" => {
                let name = text.trim();
                let ok = !name.is_empty() && name.len() < 16;
                if ok {
                    self.tcp_congestion_control = name.to_string();
                }
                ok
            }
            "net/ipv4/tcp_notsent_lowat" => one(0, u32::MAX as u64)
                .map(|v| self.tcp_notsent_lowat = v as u32)
                .is_some(),
            "net/ipv4/icmp_ratelimit" => one(0, 1 << 31)
                .map(|v| self.icmp_ratelimit = Duration::from_millis(v))
                .is_some(),
            "net/ipv6/icmp/ratelimit" => one(0, 1 << 31)
                .map(|v| self.icmpv6_ratelimit = Duration::from_millis(v))
                .is_some(),
            "net/ipv4/icmp_ratemask" => one(0, u32::MAX as u64)
                .map(|v| self.icmp_ratemask = v as u32)
                .is_some(),
            "net/ipv6/icmp/ratemask" => bitmap_list(text)
                .map(|v| self.icmpv6_ratemask = v)
                .is_some(),
            "net/ipv4/icmp_msgs_per_sec" => one(0, i32::MAX as u64)
                .map(|v| self.icmp_msgs_per_sec = v as u32)
                .is_some(),
            "net/ipv4/icmp_msgs_burst" => one(0, i32::MAX as u64)
                .map(|v| self.icmp_msgs_burst = v as u32)
                .is_some(),
            "net/ipv4/tcp_ecn" => one(0, 5).map(|v| self.tcp_ecn = v as u8).is_some(),
            "net/ipv4/igmp_qrv" => one(1, 255).map(|v| self.igmp_qrv = v as u8).is_some(),
            "net/ipv4/igmp_link_local_mcast_reports" => {
                one(0, 1).map(|v| self.igmp_llm_reports = v == 1).is_some()
            }
            "net/ipv4/conf/default/igmpv3_unsolicited_report_interval" => one(1, 1 << 31)
                .map(|v| self.igmpv3_unsolicited_report_interval = Duration::from_millis(v))
                .is_some(),
            "net/ipv4/conf/default/igmpv2_unsolicited_report_interval" => one(1, 1 << 31)
                .map(|v| self.igmpv2_unsolicited_report_interval = Duration::from_millis(v))
                .is_some(),
            "net/ipv4/conf/default/force_igmp_version" => one(0, 3)
                .map(|v| self.force_igmp_version = v as u8)
                .is_some(),
            "net/ipv6/mld_qrv" => one(1, 255).map(|v| self.mld_qrv = v as u8).is_some(),
            "net/ipv6/mld_max_msf" => one(0, 1 << 20)
                .map(|v| self.mld_max_msf = v as usize)
                .is_some(),
            "net/ipv6/conf/default/force_mld_version" => one(0, 2)
                .map(|v| self.force_mld_version = v as u8)
                .is_some(),
            "net/ipv6/conf/default/mldv2_unsolicited_report_interval" => one(1, 1 << 31)
                .map(|v| self.mldv2_unsolicited_report_interval = Duration::from_millis(v))
                .is_some(),
            "net/ipv6/conf/default/mldv1_unsolicited_report_interval" => one(1, 1 << 31)
                .map(|v| self.mldv1_unsolicited_report_interval = Duration::from_millis(v))
                .is_some(),
            "net/ipv4/tcp_fastopen_key" => fastopen_key(text)
                .map(|k| self.tcp_fastopen_key = k)
                .is_some(),
            _ => false,
        }
    }
}

/// One stack instance's interface: one IPv4 address and at most one IPv6
/// address on a point-to-point or /N link (the TUN device), with every
/// non-local destination sent there.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    /// The IPv6 address (none: IPv6 only on loopback, `::1`).
    pub addr6: Option<Ipv6Addr>,
    pub prefix_len6: u8,
    pub gateway6: Option<Ipv6Addr>,
    /// The TUN device's interface index (IP_PKTINFO reports it; loopback
    /// is 1).
    pub ifindex: u32,
    /// Largest IP packet the device carries (TUN MTU).
    pub mtu: usize,
    /// What the device does for us on output (TSO); none by default.
    pub offloads: crate::offload::Offloads,
    pub sysctl: Sysctl,
    /// Seed for the stack's randomness (ephemeral ports).
    pub seed: u64,
    /// The secret keying ISNs (RFC 6528) and timestamp offsets. Stacks that
    /// share it (and a clock) look like one host to their peers, so a new
    /// connection may reuse a 4-tuple still in the peer's TIME_WAIT.
    pub secret: u64,
}

impl Config {
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Config {
        Config {
            addr,
            prefix_len,
            gateway: None,
            addr6: None,
            prefix_len6: 64,
            gateway6: None,
            ifindex: 2,
            mtu: 1500,
            offloads: crate::offload::Offloads::default(),
            sysctl: Sysctl::default(),
            seed: 0x5eed,
            secret: 0x5ec2e7,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastopen_sysctls_parse() {
        let mut s = Sysctl::default();
        assert!(s.apply("net/ipv4/tcp_fastopen", "459779\n"));
        assert_eq!(s.tcp_fastopen, 0x70403);
        assert!(s.apply(
            "net/ipv4/tcp_fastopen_key",
            "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4\n"
        ));
        assert_eq!(
            s.tcp_fastopen_key,
            Some([0xb2b2b2b2_a1a1a1a1, 0xd4d4d4d4_c3c3c3c3])
        );
        assert!(s.apply(
            "net/ipv4/tcp_fastopen_key",
            "00000000-00000000-00000000-00000000\n"
        ));
        assert_eq!(s.tcp_fastopen_key, None, "unset");
        assert!(!s.apply("net/ipv4/tcp_fastopen_key", "zz"));
    }

    #[test]
    fn apply_parses_proc_text() {
        let mut s = Sysctl::default();
        assert!(s.apply("net/ipv4/tcp_rmem", "4096\t131072\t33554432\n"));
        assert_eq!(s.tcp_rmem, [4096, 131072, 33554432]);
        assert!(s.apply("net/ipv4/ip_local_port_range", "10000\t20000\n"));
        assert_eq!(s.port_range, (10000, 20000));
        assert!(s.apply("net/ipv4/tcp_sack", "0\n"));
        assert!(!s.tcp_sack);
        assert!(s.apply("net/ipv4/tcp_rfc1337", "1\n"));
        assert!(s.tcp_rfc1337);
        assert!(s.apply("net/ipv6/bindv6only", "1\n"));
        assert!(s.bindv6only);
        assert!(s.apply("net/ipv6/conf/default/hop_limit", "33\n"));
        assert_eq!(s.ipv6_hop_limit, 33);
        assert!(s.apply("net/ipv6/ip6frag_time", "5\n"));
        assert_eq!(s.ip6frag_time, Duration::from_secs(5));
        assert!(!s.apply("net/ipv6/conf/default/hop_limit", "0\n"));
        assert!(s.apply("net/ipv6/mld_qrv", "3\n"));
        assert_eq!((s.mld_qrv, s.igmp_qrv), (3, 2), "MLD's own robustness");
        assert!(s.apply("net/ipv6/conf/default/force_mld_version", "1\n"));
        assert_eq!(s.force_mld_version, 1);
        assert!(!s.apply("net/ipv6/conf/default/force_mld_version", "3\n"));
        assert!(s.apply("net/ipv4/conf/default/force_igmp_version", "2\n"));
        assert_eq!(s.force_igmp_version, 2);
        assert_eq!(s.tcp_notsent_lowat, u32::MAX, "Linux's default");
        assert!(s.apply("net/ipv4/tcp_notsent_lowat", "16384\n"));
        assert_eq!(s.tcp_notsent_lowat, 16384);
        assert!(!s.apply("net/ipv4/tcp_notsent_lowat", "4294967296\n"));
    }

    #[test]
    fn icmp_rate_sysctls_parse_as_proc_shows_them() {
        let mut s = Sysctl::default();
        let d = Sysctl::default();
        assert!(s.apply("net/ipv6/icmp/ratemask", "0-1,3-127\n"));
        assert_eq!(s.icmpv6_ratemask, d.icmpv6_ratemask, "the default");
        assert!(s.apply("net/ipv6/icmp/ratemask", "2,200-201\n"));
        assert_eq!(s.icmpv6_ratemask, [4, 0, 0, 3 << 8]);
        assert!(s.apply("net/ipv6/icmp/ratemask", "\n"));
        assert_eq!(s.icmpv6_ratemask, [0; 4]);
        assert!(!s.apply("net/ipv6/icmp/ratemask", "5-3"));
        assert!(!s.apply("net/ipv6/icmp/ratemask", "0-256"));
        assert!(s.apply("net/ipv4/icmp_ratelimit", "250\n"));
        assert_eq!(s.icmp_ratelimit, Duration::from_millis(250));
        assert!(s.apply("net/ipv4/icmp_ratemask", "6168\n"));
        assert_eq!(s.icmp_ratemask, d.icmp_ratemask);
        assert!(s.apply("net/ipv4/icmp_msgs_burst", "7\n"));
        assert_eq!(s.icmp_msgs_burst, 7);
    }

    #[test]
    fn apply_rejects_garbage_and_keeps_old_value() {
        let mut s = Sysctl::default();
        assert!(!s.apply("net/ipv4/tcp_rmem", "1 2"));
        assert!(!s.apply("net/ipv4/tcp_rmem", "9 2 1"));
        assert!(!s.apply("net/ipv4/ip_local_port_range", "600 5"));
        assert!(!s.apply("net/nope", "1"));
        assert_eq!(s, Sysctl::default());
    }
}
