//! Sockets inherited across exec (SOCKSHIM_MODE=service): a program started
//! by exec may hold anchors its parent left open (inetd-style servers get
//! their connection as fd 0). At load, before `main`, the shim looks for
//! AF_UNIX stream sockets among its descriptors and, if the service runs,
//! asks it which are anchors (`Attach`): those become stack sockets here.
//! Nothing happens in the default mode, and nothing starts a service.

fn is_unix_stream(fd: i32) -> bool {
    let get = |opt| crate::real::getsockopt_int(fd, libc::SOL_SOCKET, opt);
    get(libc::SO_DOMAIN) == Some(libc::AF_UNIX) && get(libc::SO_TYPE) == Some(libc::SOCK_STREAM)
}

/// The descriptors of this process that could be anchors.
fn candidates() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut v: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| is_unix_stream(fd))
        .collect();
    v.sort_unstable();
    v
}

extern "C" fn at_load() {
    let _ = std::panic::catch_unwind(|| {
        if std::env::var_os("SOCKSHIM_MODE").is_none_or(|m| m != "service") {
            return;
        }
        let fds = candidates();
        if fds.is_empty() {
            return;
        }
        let tun = std::env::var("SOCKSHIM_TUN").unwrap_or_else(|_| "sockshim0".into());
        if !crate::client::service_running(&tun) {
            return; // no service: no anchor can be alive
        }
        if crate::driver::shim().is_ok() {
            crate::ops::adopt_received(&fds);
        }
    });
}

#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;
