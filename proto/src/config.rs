//! The configuration from the environment (SOCKSHIM_*), with the defaults
//! of the project's netns convention (10.7.0.2/24 via 10.7.0.1, and
//! fd00:7::2/64 via fd00:7::1, on device sockshim0). The shim and the
//! service `sockshimd` read the same variables.

use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq)]
pub struct ShimConfig {
    pub tun: String,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    /// Our IPv6 address (`SOCKSHIM_ADDR6=none`: IPv6 on loopback only).
    pub addr6: Option<Ipv6Addr>,
    pub prefix_len6: u8,
    pub gateway6: Option<Ipv6Addr>,
    pub mtu: Option<usize>,
    pub log: LogLevel,
    pub mode: Mode,
    /// Impairments applied at the TUN I/O layer (SOCKSHIM_FAULTS; clean,
    /// i.e. off, by default).
    pub faults: stack::faults::FaultSpec,
    pub loopback: Loopback,
    /// TUN offloads (`SOCKSHIM_OFFLOAD`, on by default): a virtio_net_hdr
    /// on every frame, TCP super-segments both ways, partial checksums.
    /// Off for A/B runs, and whenever `faults` impair the device.
    pub offload: bool,
    /// SOCKSHIM_BUSY_POLL_US: how long a blocking call polls the device
    /// itself before it sleeps (as Linux's net.core.busy_read for
    /// SO_BUSY_POLL), in microseconds; 0 (the default) never.
    pub busy_poll_us: u32,
}

impl ShimConfig {
    /// Whether the device is opened with offloads: asked for, and no
    /// impairments (they act on MTU-sized frames, as a wire's loss does).
    pub fn use_offloads(&self) -> bool {
        self.offload && self.faults.is_clean()
    }
}

/// Where loopback (127.0.0.0/8) traffic goes (`SOCKSHIM_LOOPBACK`), beside
/// the kernel's own stack on the same host (issue 19).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loopback {
    /// Our stack where it has a socket for the destination, the kernel
    /// otherwise; binds covering loopback reserve the port in the kernel.
    Auto,
    /// Every loopback connect/sendto becomes a kernel socket.
    Kernel,
    /// All loopback inside our stack, no reservations (tests of the stack
    /// alone; the behaviour before issue 19).
    Stack,
}

/// Where the stack runs (`SOCKSHIM_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Inside the program's own process (one process per device, no
    /// sharing across fork).
    Process,
    /// In the per-namespace service `sockshimd`, shared by every shimmed
    /// process (opt-in while it is being built).
    Service,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "0" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            _ => return None,
        })
    }
}

/// Parse "a.b.c.d/len" (len defaults to 24).
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse().ok().filter(|l| *l <= 32)?),
        None => (s, 24),
    };
    Some((a.trim().parse().ok()?, l))
}

/// Parse "addr/len" of IPv6 (len defaults to 64).
pub fn parse_cidr6(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse().ok().filter(|l| *l <= 128)?),
        None => (s, 64),
    };
    Some((a.trim().parse().ok()?, l))
}

impl ShimConfig {
    /// Read the configuration through `get` (the environment in the shim).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ShimConfig, String> {
        let mut c = ShimConfig {
            tun: "sockshim0".into(),
            addr: Ipv4Addr::new(10, 7, 0, 2),
            prefix_len: 24,
            gateway: Some(Ipv4Addr::new(10, 7, 0, 1)),
            addr6: Some(Ipv6Addr::new(0xfd00, 7, 0, 0, 0, 0, 0, 2)),
            prefix_len6: 64,
            gateway6: Some(Ipv6Addr::new(0xfd00, 7, 0, 0, 0, 0, 0, 1)),
            mtu: None,
            log: LogLevel::Warn,
            mode: Mode::Process,
            faults: stack::faults::FaultSpec::default(),
            loopback: Loopback::Auto,
            offload: true,
            busy_poll_us: 0,
        };
        if let Some(v) = get("SOCKSHIM_TUN") {
            c.tun = v;
        }
        if let Some(v) = get("SOCKSHIM_ADDR") {
            let (a, l) =
                parse_cidr(&v).ok_or_else(|| format!("SOCKSHIM_ADDR={v}: expected a.b.c.d/len"))?;
            c.addr = a;
            c.prefix_len = l;
        }
        if let Some(v) = get("SOCKSHIM_GATEWAY") {
            c.gateway = match v.trim() {
                "none" => None,
                g => Some(
                    g.parse()
                        .map_err(|_| format!("SOCKSHIM_GATEWAY={v}: expected a.b.c.d or none"))?,
                ),
            };
        }
        if let Some(v) = get("SOCKSHIM_ADDR6") {
            if v.trim() == "none" {
                c.addr6 = None;
                c.gateway6 = None;
            } else {
                let (a, l) = parse_cidr6(&v).ok_or_else(|| {
                    format!("SOCKSHIM_ADDR6={v}: expected an IPv6 addr/len or none")
                })?;
                c.addr6 = Some(a);
                c.prefix_len6 = l;
            }
        }
        if let Some(v) = get("SOCKSHIM_GATEWAY6") {
            c.gateway6 = Some(
                v.trim()
                    .parse()
                    .map_err(|_| format!("SOCKSHIM_GATEWAY6={v}: expected an IPv6 address"))?,
            );
        }
        if let Some(v) = get("SOCKSHIM_MTU") {
            let m: usize = v
                .trim()
                .parse()
                .map_err(|_| format!("SOCKSHIM_MTU={v}: expected a number"))?;
            if !(576..=65535).contains(&m) {
                return Err(format!("SOCKSHIM_MTU={v}: must be 576..65535"));
            }
            c.mtu = Some(m);
        }
        if let Some(v) = get("SOCKSHIM_LOG") {
            c.log = LogLevel::parse(&v)
                .ok_or_else(|| format!("SOCKSHIM_LOG={v}: off|error|warn|info|debug"))?;
        }
        if let Some(v) = get("SOCKSHIM_MODE") {
            c.mode = match v.trim() {
                "process" => Mode::Process,
                "service" => Mode::Service,
                _ => return Err(format!("SOCKSHIM_MODE={v}: process|service")),
            };
        }
        if let Some(v) = get("SOCKSHIM_FAULTS") {
            c.faults = stack::faults::FaultSpec::parse(&v)
                .map_err(|e| format!("SOCKSHIM_FAULTS={v}: {e}"))?;
        }
        if let Some(v) = get("SOCKSHIM_OFFLOAD") {
            c.offload = match v.trim() {
                "1" | "on" => true,
                "0" | "off" => false,
                _ => return Err(format!("SOCKSHIM_OFFLOAD={v}: 1|0 (on|off)")),
            };
        }
        if let Some(v) = get("SOCKSHIM_BUSY_POLL_US") {
            c.busy_poll_us = v
                .trim()
                .parse()
                .ok()
                .filter(|&us: &u32| us <= 1_000_000)
                .ok_or_else(|| format!("SOCKSHIM_BUSY_POLL_US={v}: microseconds, 0..1000000"))?;
        }
        if let Some(v) = get("SOCKSHIM_LOOPBACK") {
            c.loopback = match v.trim() {
                "auto" => Loopback::Auto,
                "kernel" => Loopback::Kernel,
                "stack" => Loopback::Stack,
                _ => return Err(format!("SOCKSHIM_LOOPBACK={v}: auto|kernel|stack")),
            };
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ShimConfig, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ShimConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_netns_convention() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.tun, "sockshim0");
        assert_eq!(c.addr, Ipv4Addr::new(10, 7, 0, 2));
        assert_eq!(c.gateway, Some(Ipv4Addr::new(10, 7, 0, 1)));
        assert_eq!(c.log, LogLevel::Warn);
        assert_eq!(c.addr6, Some("fd00:7::2".parse().unwrap()));
        assert_eq!(c.prefix_len6, 64);
        assert_eq!(c.gateway6, Some("fd00:7::1".parse().unwrap()));
    }

    #[test]
    fn ipv6_overrides() {
        let c = cfg(&[
            ("SOCKSHIM_ADDR6", "fd00:9::5/112"),
            ("SOCKSHIM_GATEWAY6", "fd00:9::1"),
        ])
        .unwrap();
        assert_eq!(
            (c.addr6, c.prefix_len6, c.gateway6),
            (
                Some("fd00:9::5".parse().unwrap()),
                112,
                Some("fd00:9::1".parse().unwrap())
            )
        );
        let none = cfg(&[("SOCKSHIM_ADDR6", "none")]).unwrap();
        assert_eq!((none.addr6, none.gateway6), (None, None));
        assert!(cfg(&[("SOCKSHIM_ADDR6", "10.0.0.1/24")]).is_err());
        assert!(cfg(&[("SOCKSHIM_ADDR6", "fd00::1/129")]).is_err());
        assert!(cfg(&[("SOCKSHIM_GATEWAY6", "x")]).is_err());
        assert_eq!(cfg(&[("SOCKSHIM_GATEWAY", "none")]).unwrap().gateway, None);
        assert!(cfg(&[("SOCKSHIM_GATEWAY", "x")]).is_err());
    }

    #[test]
    fn overrides_and_errors() {
        let c = cfg(&[
            ("SOCKSHIM_ADDR", "10.9.0.5/16"),
            ("SOCKSHIM_MTU", "1400"),
            ("SOCKSHIM_LOG", "debug"),
        ])
        .unwrap();
        assert_eq!(
            (c.addr, c.prefix_len, c.mtu, c.log),
            (Ipv4Addr::new(10, 9, 0, 5), 16, Some(1400), LogLevel::Debug)
        );
        assert!(cfg(&[("SOCKSHIM_ADDR", "nope")]).is_err());
        assert!(cfg(&[("SOCKSHIM_MTU", "10")]).is_err());
        assert!(cfg(&[("SOCKSHIM_LOG", "loud")]).is_err());
        assert_eq!(cfg(&[]).unwrap().mode, Mode::Process);
        assert_eq!(
            cfg(&[("SOCKSHIM_MODE", "service")]).unwrap().mode,
            Mode::Service
        );
        assert!(cfg(&[("SOCKSHIM_MODE", "both")]).is_err());
        assert!(cfg(&[]).unwrap().faults.is_clean());
        let f = cfg(&[("SOCKSHIM_FAULTS", "loss=0.01,seed=7")])
            .unwrap()
            .faults;
        assert_eq!((f.loss, f.seed), (0.01, 7));
        let e = cfg(&[("SOCKSHIM_FAULTS", "loss=3")]).unwrap_err();
        assert!(e.starts_with("SOCKSHIM_FAULTS=loss=3: loss"), "{e}");
        assert_eq!(cfg(&[]).unwrap().loopback, Loopback::Auto);
        assert_eq!(
            cfg(&[("SOCKSHIM_LOOPBACK", "kernel")]).unwrap().loopback,
            Loopback::Kernel
        );
        assert_eq!(
            cfg(&[("SOCKSHIM_LOOPBACK", "stack")]).unwrap().loopback,
            Loopback::Stack
        );
        assert!(cfg(&[("SOCKSHIM_LOOPBACK", "both")]).is_err());
    }

    #[test]
    fn offloads_on_unless_turned_off_or_faults_impair_the_device() {
        assert!(cfg(&[]).unwrap().use_offloads());
        assert!(cfg(&[("SOCKSHIM_OFFLOAD", "1")]).unwrap().use_offloads());
        assert!(!cfg(&[("SOCKSHIM_OFFLOAD", "0")]).unwrap().use_offloads());
        assert!(!cfg(&[("SOCKSHIM_OFFLOAD", "off")]).unwrap().use_offloads());
        assert!(!cfg(&[("SOCKSHIM_FAULTS", "loss=0.01")])
            .unwrap()
            .use_offloads());
        assert!(cfg(&[("SOCKSHIM_OFFLOAD", "maybe")]).is_err());
    }

    #[test]
    fn busy_poll_is_off_unless_asked_for() {
        assert_eq!(cfg(&[]).unwrap().busy_poll_us, 0);
        let c = cfg(&[("SOCKSHIM_BUSY_POLL_US", "50")]).unwrap();
        assert_eq!(c.busy_poll_us, 50);
        for bad in ["-1", "fast", "1000001"] {
            let e = cfg(&[("SOCKSHIM_BUSY_POLL_US", bad)]).unwrap_err();
            assert!(e.starts_with("SOCKSHIM_BUSY_POLL_US="), "{e}");
        }
    }
}
