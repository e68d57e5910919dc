//! `sockshimd [--foreground] [--user NAME]`: the stack service for the TUN
//! device named by SOCKSHIM_TUN (default sockshim0) in this network
//! namespace. The shim starts it on demand; it exits by itself when idle
//! (SOCKSHIM_IDLE_MS, default 10 s). Root may start it for a server that
//! runs as another user (`--user`: it attaches the device as root, then
//! runs as NAME). See `startup` for its exit codes.

use std::time::Duration;

use service::core::Core;
use service::run::Service;
use service::startup::{self, EXIT_CONFIG, EXIT_NO_DEVICE, EXIT_RUNNING};

fn main() {
    startup::own_fds_and_limits();
    let args: Vec<String> = std::env::args().collect();
    let foreground = args.iter().any(|a| a == "--foreground");
    let cfg = match proto::config::ShimConfig::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("sockshimd: bad configuration: {msg}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let limits = match service::limits::Limits::from_lookup(|k| std::env::var(k).ok()) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("sockshimd: bad configuration: {msg}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let idle = std::env::var("SOCKSHIM_IDLE_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10));
    // The name first: a second service for this device leaves before it
    // touches the device.
    let listener = match service::listener::bind_name(&proto::name::service_name(&cfg.tun)) {
        Ok(l) => l,
        Err(nix::errno::Errno::EADDRINUSE) => std::process::exit(EXIT_RUNNING),
        Err(e) => {
            eprintln!(
                "sockshimd: cannot bind the service name for '{}': {e}",
                cfg.tun
            );
            std::process::exit(EXIT_NO_DEVICE);
        }
    };
    let device = match service::device::open_tun(&cfg.tun, cfg.use_offloads()) {
        Ok(d) => d,
        Err(e) => {
            let hint = if e.raw_os_error() == Some(libc::EBUSY) {
                "another process is attached to it (a program in SOCKSHIM_MODE=process?)"
            } else {
                "create it first (scripts/netns-up NAME, then run inside that namespace), or set SOCKSHIM_TUN"
            };
            eprintln!(
                "sockshim: cannot attach TUN device '{}': {e}; {hint}.",
                cfg.tun
            );
            std::process::exit(EXIT_NO_DEVICE);
        }
    };
    if let Some(why) = &device.fallback {
        eprintln!(
            "sockshimd: TUN offloads not available on {}: {why}; one frame per MTU",
            cfg.tun
        );
    }
    let mut sc = startup::stack_config(&cfg);
    sc.offloads = stack::Offloads::from_tun_flags(device.offload_flags);
    let vnet = device.vnet;
    let device = device.fd;
    service::device::wait_running(&cfg.tun, Duration::from_secs(2));
    if let Some(user) = startup::user_arg(&args) {
        if let Err(e) = startup::drop_to_user(user) {
            eprintln!("sockshimd: --user {user}: {e}");
            std::process::exit(EXIT_CONFIG);
        }
    }
    if !foreground {
        startup::detach(std::env::var("SOCKSHIM_SERVICE_LOG").ok().as_deref());
    }
    let mut core = Core::new(stack::Stack::new(sc));
    if let Some(w) = service::rtnl::AddrWatch::open(service::device::rtnl_sys(), |fd| fd) {
        core.stack.set_addr_watch(Box::new(move || w.poll()));
    }
    core.read_sysctl = Some(startup::read_sysctl);
    core.limits = limits;
    match Service::new(core, device, listener, idle) {
        Ok(mut s) => {
            s.faults = stack::faults::DeviceFaults::from_spec(cfg.faults);
            s.vnet = vnet;

            s.log_counters = cfg.log >= proto::config::LogLevel::Debug;
            s.run()
        }
        Err(e) => {
            eprintln!("sockshimd: cannot start the event loop: {e}");
            std::process::exit(EXIT_NO_DEVICE);
        }
    }
}
