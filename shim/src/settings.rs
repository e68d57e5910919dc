//! The shim's configuration from the environment: which TUN device to
//! attach, the host's address, prefix and gateway, the MTU and the log
//! level. Parsing is pure (the environment comes in as a lookup function)
//! so it is unit-tested here.

use std::net::Ipv4Addr;

/// Diagnostics level, ordered from quiet to verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum LogLevel {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "0" => LogLevel::Off,
            "error" | "1" => LogLevel::Error,
            "warn" | "warning" | "2" => LogLevel::Warn,
            "info" | "3" => LogLevel::Info,
            "debug" | "trace" | "4" => LogLevel::Debug,
            _ => return None,
        })
    }

    pub fn from_u8(v: u8) -> LogLevel {
        match v {
            0 => LogLevel::Off,
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            _ => LogLevel::Debug,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

pub const DEFAULT_TUN: &str = "sockshim0";
pub const DEFAULT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
pub const DEFAULT_PREFIX_LEN: u8 = 24;
pub const DEFAULT_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);

/// What the environment asks for. `mtu: None` means "the device's MTU".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub tun: String,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<usize>,
}

impl Settings {
    /// Reads SOCKSHIM_TUN, SOCKSHIM_ADDR (a.b.c.d[/len]), SOCKSHIM_GATEWAY
    /// (an address, or "none") and SOCKSHIM_MTU through `get`. The error is
    /// a one-line explanation naming the bad variable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut s = Settings {
            tun: DEFAULT_TUN.to_string(),
            addr: DEFAULT_ADDR,
            prefix_len: DEFAULT_PREFIX_LEN,
            gateway: Some(DEFAULT_GATEWAY),
            mtu: None,
        };
        if let Some(tun) = get("SOCKSHIM_TUN").filter(|v| !v.is_empty()) {
            if tun.len() >= libc::IFNAMSIZ || tun.contains(['/', ' ', '\0']) {
                return Err(format!(
                    "SOCKSHIM_TUN={tun:?} is not a valid interface name"
                ));
            }
            s.tun = tun;
        }
        if let Some(v) = get("SOCKSHIM_ADDR").filter(|v| !v.is_empty()) {
            let (addr, prefix) = parse_addr_prefix(&v)
                .ok_or_else(|| format!("SOCKSHIM_ADDR={v:?} is not an IPv4 address[/prefix]"))?;
            s.addr = addr;
            s.prefix_len = prefix.unwrap_or(DEFAULT_PREFIX_LEN);
        }
        if let Some(v) = get("SOCKSHIM_GATEWAY").filter(|v| !v.is_empty()) {
            s.gateway = if v.eq_ignore_ascii_case("none") {
                None
            } else {
                Some(v.trim().parse().map_err(|_| {
                    format!("SOCKSHIM_GATEWAY={v:?} is not an IPv4 address (or \"none\")")
                })?)
            };
        }
        if let Some(v) = get("SOCKSHIM_MTU").filter(|v| !v.is_empty()) {
            let mtu: usize = v
                .trim()
                .parse()
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| format!("SOCKSHIM_MTU={v:?} is not a number in 68..=65535"))?;
            s.mtu = Some(mtu);
        }
        Ok(s)
    }
}

fn parse_addr_prefix(v: &str) -> Option<(Ipv4Addr, Option<u8>)> {
    let v = v.trim();
    match v.split_once('/') {
        None => Some((v.parse().ok()?, None)),
        Some((a, p)) => {
            let prefix: u8 = p.parse().ok().filter(|p| (1..=32).contains(p))?;
            Some((a.parse().ok()?, Some(prefix)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_are_the_netns_convention() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert_eq!(s.tun, "sockshim0");
        assert_eq!(s.addr, Ipv4Addr::new(10, 7, 0, 2));
        assert_eq!(s.prefix_len, 24);
        assert_eq!(s.gateway, Some(Ipv4Addr::new(10, 7, 0, 1)));
        assert_eq!(s.mtu, None);
    }

    #[test]
    fn overrides_parse() {
        let s = Settings::from_env(env(&[
            ("SOCKSHIM_TUN", "tun9"),
            ("SOCKSHIM_ADDR", "10.7.1.5/16"),
            ("SOCKSHIM_GATEWAY", "none"),
            ("SOCKSHIM_MTU", "9000"),
        ]))
        .unwrap();
        assert_eq!(s.tun, "tun9");
        assert_eq!(s.addr, Ipv4Addr::new(10, 7, 1, 5));
        assert_eq!(s.prefix_len, 16);
        assert_eq!(s.gateway, None);
        assert_eq!(s.mtu, Some(9000));
        let s = Settings::from_env(env(&[("SOCKSHIM_ADDR", "10.7.0.9")])).unwrap();
        assert_eq!((s.addr, s.prefix_len), (Ipv4Addr::new(10, 7, 0, 9), 24));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("SOCKSHIM_ADDR", "10.7.0/24"),
            ("SOCKSHIM_ADDR", "10.7.0.2/33"),
            ("SOCKSHIM_GATEWAY", "gw"),
            ("SOCKSHIM_MTU", "20"),
            ("SOCKSHIM_MTU", "x"),
            ("SOCKSHIM_TUN", "a-very-long-interface-name"),
        ] {
            let e = Settings::from_env(env(&[(k, v)])).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
    }

    #[test]
    fn log_levels_parse_and_order() {
        assert_eq!(LogLevel::parse("DEBUG"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("off"), Some(LogLevel::Off));
        assert_eq!(LogLevel::parse("loud"), None);
        assert!(LogLevel::Error < LogLevel::Warn);
        assert_eq!(LogLevel::from_u8(LogLevel::Info as u8), LogLevel::Info);
    }
}
