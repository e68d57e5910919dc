//! Logging that explains the shim's decisions, once per reason (issue 14):
//! why a socket went to the kernel's stack instead of ours (a family or
//! type the stack does not serve, a forked child in process mode, a
//! loopback destination only the kernel serves), and why a call was
//! refused (an option the stack does not implement). One stderr line per distinct reason, at
//! SOCKSHIM_LOG=info or above; off by default, when it costs two atomic
//! loads per decision.

use std::collections::HashSet;

use libc::c_int;
use parking_lot::Mutex;

use crate::config::LogLevel;

static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Is this the first time `reason` was given (in this process)?
fn first_time(reason: &str) -> bool {
    SEEN.lock()
        .get_or_insert_with(HashSet::new)
        .insert(reason.to_string())
}

/// Log `reason()` once, if SOCKSHIM_LOG asks for decisions.
pub fn explain(reason: impl FnOnce() -> String) {
    if !crate::log::enabled_early(LogLevel::Info) {
        return;
    }
    let r = reason();
    if first_time(&r) {
        crate::log::info(&format!("sockshim: {r}"));
    }
}

/// Why socket(domain, ty, protocol) goes to the kernel.
pub fn kernel_socket(domain: c_int, ty: c_int, protocol: c_int, forked: bool) -> String {
    let family = crate::trace::family(domain);
    let base = crate::trace::sock_type(ty & 0xf);
    if forked && (domain == libc::AF_INET || domain == libc::AF_INET6) {
        return format!(
            "socket({family}, {base}) goes to the kernel: in a child forked without exec, \
             process mode leaves the stack to the parent (SOCKSHIM_MODE=service shares it)"
        );
    }
    match domain {
        libc::AF_INET | libc::AF_INET6 => format!(
            "socket({family}, {base}, {protocol}) goes to the kernel: the stack serves \
             TCP (SOCK_STREAM) and UDP (SOCK_DGRAM) only"
        ),
        _ => format!(
            "socket({family}, ...) goes to the kernel: the stack serves AF_INET and AF_INET6 only"
        ),
    }
}

/// Why {set,get}sockopt(level, name) on a stack socket failed with
/// ENOPROTOOPT: the stack does not implement the option (Linux may).
pub fn option_refused(op: &str, level: c_int, name: c_int) -> String {
    let level = match level {
        libc::SOL_SOCKET => "SOL_SOCKET".to_string(),
        libc::IPPROTO_IP => "IPPROTO_IP".to_string(),
        libc::IPPROTO_IPV6 => "IPPROTO_IPV6".to_string(),
        libc::IPPROTO_TCP => "IPPROTO_TCP".to_string(),
        libc::IPPROTO_UDP => "IPPROTO_UDP".to_string(),
        l => l.to_string(),
    };
    format!(
        "{op}sockopt({level}, {name}) refused with ENOPROTOOPT: the stack does not \
         implement this option (Linux may)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_is_given_once() {
        let a = kernel_socket(libc::AF_UNIX, libc::SOCK_STREAM, 0, false);
        let b = kernel_socket(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            false,
        );
        assert_eq!(a, b, "one reason per family, whatever the type");
        assert!(first_time(&a));
        assert!(!first_time(&b));
        let n = kernel_socket(libc::AF_NETLINK, libc::SOCK_RAW, 0, false);
        assert!(n.contains("AF_NETLINK") && first_time(&n));
        let raw = kernel_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP, false);
        assert!(raw.contains("SOCK_RAW") && raw.contains("TCP"), "{raw}");
        let f = kernel_socket(libc::AF_INET, libc::SOCK_STREAM, 0, true);
        assert!(f.contains("forked"), "{f}");
        let o = option_refused("set", libc::SOL_SOCKET, libc::SO_ATTACH_FILTER);
        assert!(o.starts_with("setsockopt(SOL_SOCKET, 26) refused"), "{o}");
    }
}
