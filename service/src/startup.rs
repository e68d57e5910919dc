//! Start-up of `sockshimd`: its own fds and limits (not the program's that
//! spawned it), its configuration (the spawning client's SOCKSHIM_*), the
//! name bind that decides whether it runs at all, the device, and the
//! detach from the spawning process.
//!
//! Exit codes the client reads: `EXIT_STARTED` (a detached service now
//! serves), `EXIT_RUNNING` (another service holds the name: use it),
//! `EXIT_NO_DEVICE` (one line on stderr says why), `EXIT_CONFIG`.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use stack::{Config, Sysctl};

pub const EXIT_STARTED: i32 = 0;
pub const EXIT_CONFIG: i32 = 2;
pub const EXIT_RUNNING: i32 = 3;
pub const EXIT_NO_DEVICE: i32 = 4;

/// Close every fd above stderr that the spawning program left open (an
/// anchor held here would hide that socket's last close forever), and
/// raise the fd limit: the service holds one fd per socket of every
/// client, so its table is the namespace's socket table. Where it may
/// (CAP_SYS_RESOURCE, as root), to the kernel's per-process maximum
/// `fs.nr_open`; else to the hard limit it inherited (each program's own
/// limit still caps that program's sockets, as on Linux).
pub fn own_fds_and_limits() {
    // SAFETY: close_range on fds this process does not use yet.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let raised = nr_open
            .filter(|&n| n > hard)
            .is_some_and(|n| setrlimit(Resource::RLIMIT_NOFILE, n, n).is_ok());
        if !raised {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// The namespace's sysctls now, re-read for every new socket as Linux
/// does. The files stay open and are read with `pread` at offset 0 (procfs
/// formats the current value on every read): one system call per file,
/// not an open, read and close each (about 250 µs per socket).
pub fn read_sysctl() -> Sysctl {
    static FILES: OnceLock<Vec<Option<File>>> = OnceLock::new();
    let files = FILES.get_or_init(|| {
        stack::config::SYSCTL_PATHS
            .iter()
            .map(|p| File::open(format!("/proc/sys/{p}")).ok())
            .collect()
    });
    Sysctl::read_each(|i, buf| files.get(i)?.as_ref()?.read_at(buf, 0).ok())
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        b = (std::process::id() as u64 ^ crate::run::now().total_micros()).to_ne_bytes();
    }
    u64::from_ne_bytes(b)
}

/// The stack's configuration: addresses from SOCKSHIM_*, defaults from the
/// namespace's sysctls, ISN secret per boot (as Linux), MTU from the device.
pub fn stack_config(cfg: &proto::config::ShimConfig) -> Config {
    let mut sc = Config::new(cfg.addr, cfg.prefix_len);
    sc.gateway = cfg.gateway;
    sc.addr6 = cfg.addr6;
    sc.prefix_len6 = cfg.prefix_len6;
    sc.gateway6 = cfg.gateway6;
    if let Some(i) = crate::device::device_ifindex(&cfg.tun) {
        sc.ifindex = i;
    }
    sc.mtu = cfg
        .mtu
        .or_else(|| crate::device::device_mtu(&cfg.tun))
        .unwrap_or(1500);
    sc.sysctl = read_sysctl();
    sc.seed = random_u64();
    sc.secret = match std::fs::read("/proc/sys/kernel/random/boot_id") {
        Ok(id) => fnv(&id),
        Err(_) => random_u64(),
    };
    sc
}

/// `--user NAME`: give up root for NAME's uid and gid (no supplementary
/// groups) once the name is bound and the device attached, so that a
/// server running as NAME (PostgreSQL refuses to run as root) may create
/// sockets: the service trusts clients of its own uid or root. Opening
/// the device needs root where `/dev/net/tun` is 0600 (no udev rule), so a
/// service started by such a user could never attach it.
pub fn drop_to_user(name: &str) -> Result<(), String> {
    use nix::unistd::{setgid, setgroups, setuid, User};
    let user = match User::from_name(name) {
        Ok(Some(u)) => u,
        Ok(None) => return Err(format!("no user '{name}'")),
        Err(e) => return Err(format!("cannot look up user '{name}': {e}")),
    };
    // The group first: once the uid is not root it could not be changed.
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(user.gid).map_err(|e| format!("setgid {}: {e}", user.gid))?;
    setuid(user.uid).map_err(|e| format!("setuid {}: {e}", user.uid))?;
    Ok(())
}

/// The value of `--user NAME` (or `--user=NAME`) in `args`, if any.
pub fn user_arg(args: &[String]) -> Option<&str> {
    args.iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--user") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(v) => v.strip_prefix('='),
            None => None,
        })
}

/// Detach: the parent (the process the client spawned) exits with
/// `EXIT_STARTED` once the child exists; the child gets its own process
/// group (not its own session) and stdio (/dev/null, or the file
/// SOCKSHIM_SERVICE_LOG names).
/// Returns in the child only.
pub fn detach(log: Option<&str>) {
    // SAFETY: single-threaded here (no thread started yet), so the child
    // may do anything the parent could.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => std::process::exit(EXIT_STARTED),
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(_) => return, // serve from this process then
    }
    // Its own process group (a ^C or a job-control signal meant for the
    // program does not reach it) and SIGHUP ignored, but not its own
    // session: a new session is a new scheduler autogroup, and a service
    // competing as a group of its own with its clients' group waited for
    // a CPU much longer at every wake-up (docs/architecture.md, "Doorbells
    // and spinning": TCP_RR with both cores busy 1.6-4.4k -> 6.7-12.6k
    // transactions/s).
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    // SAFETY: setting a signal's disposition to SIG_IGN.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    let null: Option<OwnedFd> = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ok()
        .map(Into::into);
    let out: Option<OwnedFd> = log
        .and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        })
        .map(Into::into);
    if let Some(n) = &null {
        let _ = nix::unistd::dup2(n.as_raw_fd(), 0);
        let o = out.as_ref().unwrap_or(n);
        let _ = nix::unistd::dup2(o.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(o.as_raw_fd(), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_arg_takes_both_spellings() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            user_arg(&args(&["sockshimd", "--user", "postgres"])),
            Some("postgres")
        );
        assert_eq!(
            user_arg(&args(&["sockshimd", "--user=nobody", "--foreground"])),
            Some("nobody")
        );
        assert_eq!(user_arg(&args(&["sockshimd", "--foreground"])), None);
        assert_eq!(user_arg(&args(&["sockshimd", "--user"])), None);
        assert_eq!(user_arg(&args(&["sockshimd", "--username"])), None);
    }

    #[test]
    fn cached_sysctl_reads_give_what_a_fresh_read_gives() {
        let mut fresh = Sysctl::default();
        for path in stack::config::SYSCTL_PATHS {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/sys/{path}")) {
                fresh.apply(path, &text);
            }
        }
        assert_eq!(read_sysctl(), fresh, "the first read opens the files");
        assert_eq!(read_sysctl(), fresh, "the second one preads them");
    }
}
