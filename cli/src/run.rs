//! `sockshim run`: start a program with the shim preloaded. Finds the
//! library (an absolute path, so a program that changes directory keeps it),
//! sets the SOCKSHIM_* environment, refuses a program the shim cannot serve
//! (saying why; `--force` runs it with a loud warning), and with `--netns`
//! makes the namespace and TUN device, runs the program inside, and removes
//! what it made when the program exits.

use std::ffi::{OsStr, OsString};
use std::net::Ipv4Addr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::netns;
use crate::servable::{self, Ids};

pub const LIB_NAME: &str = "libsockshim.so";

/// Exit codes, as a shell's: 126 cannot be run (refused), 127 not found.
pub const EXIT_REFUSED: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

#[derive(Debug, Default)]
pub struct RunOpts {
    pub tun: Option<String>,
    pub addr: Option<String>,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
    pub log: Option<String>,
    pub faults: Option<String>,
    pub netns: Option<String>,
    pub keep_netns: bool,
    pub lib: Option<PathBuf>,
    pub force: bool,
    pub cmd: Vec<OsString>,
    /// More variables for CMD (`trace` sets SOCKSHIM_TRACE).
    pub env: Vec<(String, OsString)>,
}

/// Where the library may be, in order: --lib, $SOCKSHIM_SO, beside this
/// binary, in ../lib beside it, and the workspace's target/release (the
/// build this binary came from, for `cargo install --path cli`).
pub fn lib_candidates(lib: Option<&Path>) -> Vec<PathBuf> {
    if let Some(l) = lib {
        return vec![l.to_path_buf()];
    }
    let mut c = vec![];
    if let Some(s) = std::env::var_os("SOCKSHIM_SO") {
        c.push(PathBuf::from(s));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        c.push(dir.join(LIB_NAME));
        c.push(dir.join("../lib").join(LIB_NAME));
    }
    c.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/release")
            .join(LIB_NAME),
    );
    c
}

pub fn find_lib(lib: Option<&Path>) -> Result<PathBuf, String> {
    let cands = lib_candidates(lib);
    for p in &cands {
        if p.is_file() {
            return p
                .canonicalize()
                .map_err(|e| format!("{}: {e}", p.display()));
        }
    }
    Err(format!(
        "{LIB_NAME} not found (looked in: {}): build it with `cargo build --release -p shim` or pass --lib PATH",
        cands.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    ))
}

/// LD_PRELOAD with our library first, keeping what was already preloaded.
pub fn ld_preload(lib: &Path, existing: Option<&OsStr>) -> OsString {
    let mut v = lib.as_os_str().to_os_string();
    if let Some(e) = existing {
        for part in e.to_string_lossy().split([':', ' ']) {
            if !part.is_empty() && Path::new(part) != lib {
                v.push(":");
                v.push(part);
            }
        }
    }
    v
}

/// Run the program; returns the exit code for `sockshim` itself.
pub fn run(o: RunOpts) -> i32 {
    let warn = |m: &str| eprintln!("sockshim run: WARNING: {m}");
    let lib = match find_lib(o.lib.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sockshim run: {e}");
            return 1;
        }
    };
    let prog_name = &o.cmd[0];
    let path = std::env::var_os("PATH");
    let Some(prog) = servable::which(prog_name, path.as_deref()) else {
        eprintln!(
            "sockshim run: {}: command not found",
            prog_name.to_string_lossy()
        );
        return EXIT_NOT_FOUND;
    };
    let lib_elf = servable::lib_info(&lib);
    let findings = servable::check(&prog, Ids::current(), path.as_deref(), lib_elf.as_ref());
    let mut refused = false;
    for f in &findings {
        if f.fatal && !o.force {
            eprintln!("sockshim run: refusing: {} (--force runs it anyway)", f.why);
            refused = true;
        } else {
            warn(&f.why);
        }
    }
    if refused {
        return EXIT_REFUSED;
    }

    let dev = o
        .tun
        .clone()
        .unwrap_or_else(|| netns::DEFAULT_TUN.to_string());
    let mut cmd;
    let mut made_ns = None;
    let mut gateway = o.gateway;
    if let Some(ns) = &o.netns {
        let (ours, len) = match parse_cidr(o.addr.as_deref().unwrap_or("10.7.0.2/24")) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("sockshim run: --addr: {e}");
                return 2;
            }
        };
        let kside = match netns::kernel_side(ours, len) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("sockshim run: --addr: {e}");
                return 2;
            }
        };
        match netns::up(ns, &dev, &format!("{kside}/{len}")) {
            Ok(true) if !o.keep_netns => made_ns = Some(ns.clone()),
            Ok(_) => {}
            Err(e) => {
                eprintln!("sockshim run: netns {ns}: {e}");
                return 1;
            }
        }
        gateway.get_or_insert(kside);
        cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(&prog).args(&o.cmd[1..]);
    } else {
        if !Path::new("/sys/class/net").join(&dev).exists() {
            warn(&format!(
                "no device {dev} in this network namespace: the program's first socket will fail \
                 with ENETDOWN (use --netns NAME, or `sockshim netns up NAME` and run inside it)"
            ));
        }
        cmd = Command::new(&prog);
        cmd.arg0(prog_name).args(&o.cmd[1..]);
    }
    cmd.env(
        "LD_PRELOAD",
        ld_preload(&lib, std::env::var_os("LD_PRELOAD").as_deref()),
    );
    let sets = [
        ("SOCKSHIM_TUN", o.tun.clone()),
        ("SOCKSHIM_ADDR", o.addr.clone()),
        ("SOCKSHIM_GATEWAY", gateway.map(|g| g.to_string())),
        ("SOCKSHIM_MTU", o.mtu.map(|m| m.to_string())),
        ("SOCKSHIM_LOG", o.log.clone()),
        ("SOCKSHIM_FAULTS", o.faults.clone()),
    ];
    for (k, v) in sets {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    for (k, v) in &o.env {
        cmd.env(k, v);
    }

    let Some(ns) = made_ns else {
        // Nothing to clean up afterwards: become the program.
        let e = cmd.exec();
        eprintln!("sockshim run: {}: {e}", prog.display());
        return EXIT_REFUSED;
    };
    // We made the namespace: wait for the program, then remove it. Ctrl-C
    // reaches the program (same process group); we outlive it to clean up.
    // A handler (not SIG_IGN, which the program would inherit) keeps this
    // process alive; exec resets it to the default in the program.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT] {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Err(e) = signal_hook::flag::register(sig, flag) {
            warn(&format!("cannot catch signal {sig}: {e}"));
        }
    }
    let status = cmd.status();
    if let Err(e) = netns::down(&ns) {
        eprintln!("sockshim run: removing netns {ns}: {e}");
    }
    match status {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(e) => {
            eprintln!("sockshim run: {}: {e}", prog.display());
            EXIT_REFUSED
        }
    }
}

/// "a.b.c.d/len" (len defaults to 24), as the shim reads SOCKSHIM_ADDR.
pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, l) = s.split_once('/').unwrap_or((s, "24"));
    let a: Ipv4Addr = a
        .trim()
        .parse()
        .map_err(|_| format!("{s}: expected a.b.c.d/len"))?;
    let l: u8 = l
        .trim()
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or(format!("{s}: bad prefix length"))?;
    Ok((a, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ld_preload_puts_ours_first_once() {
        let lib = Path::new("/x/libsockshim.so");
        assert_eq!(ld_preload(lib, None), OsString::from("/x/libsockshim.so"));
        assert_eq!(
            ld_preload(lib, Some(OsStr::new("/a.so /x/libsockshim.so:/b.so"))),
            OsString::from("/x/libsockshim.so:/a.so:/b.so")
        );
    }

    #[test]
    fn explicit_lib_wins_and_missing_is_one_clear_error() {
        assert_eq!(
            lib_candidates(Some(Path::new("/y.so"))),
            vec![PathBuf::from("/y.so")]
        );
        let e = find_lib(Some(Path::new("/no/such/libsockshim.so"))).unwrap_err();
        assert!(
            e.contains("not found") && e.contains("--lib") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn cidr() {
        assert_eq!(
            parse_cidr("10.9.0.5/16"),
            Ok((Ipv4Addr::new(10, 9, 0, 5), 16))
        );
        assert_eq!(parse_cidr("10.9.0.5"), Ok((Ipv4Addr::new(10, 9, 0, 5), 24)));
        assert!(parse_cidr("10.9.0.5/33").is_err());
        assert!(parse_cidr("nope/24").is_err());
    }
}
