//! `sockshim`: the command-line front end. `run` starts a program with the
//! shim preloaded (checking first that the shim can serve it), `check` only
//! checks, `netns up|down` makes and removes the project's network namespace
//! with its TUN device. Every subcommand has `--help`.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod capture;
mod compare;
mod elf;
mod netns;
mod run;
mod servable;
mod service;
mod stat;

#[derive(Parser)]
#[command(
    name = "sockshim",
    version,
    about = "Run unmodified programs on sockshim's user-space TCP/IP stack",
    after_help = "Example:\n  sockshim run --netns demo -- curl http://10.7.0.1:8080/"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run CMD with libsockshim.so preloaded (refuses programs it cannot serve)
    Run(RunArgs),
    /// Say whether the shim can serve CMD and why not (exit 0 yes, 126 no)
    Check {
        /// The program (a path, or a name looked up on PATH)
        cmd: OsString,
    },
    /// Make or remove a network namespace with the TUN device
    Netns {
        #[command(subcommand)]
        op: NetnsOp,
    },
    /// Run CMD as `run` does, printing one line per network call it makes
    /// (socket, connect, sendto, ...) with arguments, result and errno, like
    /// strace -e trace=network (SOCKSHIM_TRACE)
    #[command(after_help = "Examples:\n  \
        ip netns exec demo sockshim trace -- curl -s http://10.7.0.1:8000/\n  \
        ip netns exec demo sockshim trace -o calls.txt -- nginx -g 'daemon off;'")]
    Trace {
        /// Append the lines to FILE instead of standard error
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Write a pcap file of every frame this namespace's stack receives and
    /// sends (tcpdump -r, tshark -r read it); needs the stack service
    /// (SOCKSHIM_MODE=service). Stops on Ctrl-C, SIGTERM, -c or --duration
    #[command(after_help = "Examples:\n  \
        ip netns exec demo sockshim capture -w /tmp/stack.pcap\n  \
        ip netns exec demo sockshim capture -w /tmp/stack.pcap -c 100 && tcpdump -nr /tmp/stack.pcap")]
    Capture {
        /// The pcapng file to write (pcap with --pcap)
        #[arg(short = 'w', value_name = "FILE")]
        file: PathBuf,
        /// The stack's TUN device (SOCKSHIM_TUN)
        #[arg(long, env = "SOCKSHIM_TUN", default_value = netns::DEFAULT_TUN)]
        tun: String,
        /// Stop after this many frames
        #[arg(short = 'c', long, value_name = "N")]
        count: Option<u64>,
        /// Stop after this many seconds
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Write classic pcap instead of pcapng (no direction or drop
        /// annotations)
        #[arg(long)]
        pcap: bool,
    },
    /// Run CMD on the kernel's sockets (strace, a veth with the same
    /// addresses) and under the shim (SOCKSHIM_TRACE); print the first call
    /// on an AF_INET socket where they differ, or "same" (exit 0 same, 1
    /// different, 2 error). Run it where `sockshim run` would run CMD
    #[command(after_help = "Example:\n  \
        ip netns exec demo sockshim compare -- curl -s http://10.7.0.1:8000/")]
    Compare {
        /// The TUN device of the shim run (SOCKSHIM_TUN)
        #[arg(long, env = "SOCKSHIM_TUN", default_value = netns::DEFAULT_TUN)]
        tun: String,
        /// The program's address in both runs (SOCKSHIM_ADDR) [default: 10.7.0.2/24]
        #[arg(long, value_name = "A/N")]
        addr: Option<String>,
        /// Path of libsockshim.so (as for run)
        #[arg(long, value_name = "PATH")]
        lib: Option<PathBuf>,
        /// Keep both traces in DIR (kernel.txt, shim.txt)
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// The program and its arguments (after `--`)
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        cmd: Vec<OsString>,
    },
    /// Every socket of this namespace's stack and its counters (like ss -tinp
    /// and nstat); needs the stack service (SOCKSHIM_MODE=service)
    #[command(after_help = "Examples:\n  \
        ip netns exec demo sockshim stat\n  \
        ip netns exec demo sockshim stat --watch\n  \
        ip netns exec demo sockshim stat --json | jq '.sockets[] | select(.state_name == \"LISTEN\")'")]
    Stat {
        /// The stack's TUN device (SOCKSHIM_TUN)
        #[arg(long, env = "SOCKSHIM_TUN", default_value = netns::DEFAULT_TUN)]
        tun: String,
        /// Refresh every --interval until interrupted
        #[arg(long)]
        watch: bool,
        /// One JSON object (per refresh with --watch)
        #[arg(long)]
        json: bool,
        /// Seconds between refreshes with --watch
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
}

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    sockshim run --netns demo -- curl http://10.7.0.1:8080/\n  \
    ip netns exec demo sockshim run -- python3 -m http.server --bind 10.7.0.2 8000")]
struct RunArgs {
    /// TUN device the stack attaches to (SOCKSHIM_TUN) [default: sockshim0]
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
    /// The stack's address and prefix (SOCKSHIM_ADDR) [default: 10.7.0.2/24]
    #[arg(long, value_name = "A/N")]
    addr: Option<String>,
    /// Next hop for other destinations (SOCKSHIM_GATEWAY) [default: 10.7.0.1,
    /// or with --netns the kernel side of the device]
    #[arg(long, value_name = "A")]
    gateway: Option<Ipv4Addr>,
    /// MTU (SOCKSHIM_MTU, 576..65535) [default: the device's]
    #[arg(long)]
    mtu: Option<u32>,
    /// Shim log level (SOCKSHIM_LOG): off, error, warn, info, debug
    #[arg(long, value_name = "LEVEL")]
    log: Option<String>,
    /// Impair the device's frames, both directions (SOCKSHIM_FAULTS), e.g.
    /// loss=0.01,reorder=0.01,dup=0.005,delay=2ms,jitter=1ms,corrupt=0.001,seed=7
    #[arg(long, value_name = "SPEC", value_parser = parse_faults)]
    faults: Option<String>,
    /// Run inside network namespace NAME, making it and the TUN device when
    /// missing (kernel side: the first host of --addr's network); a
    /// namespace made here is removed when CMD exits
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
    /// Keep a namespace made by --netns after CMD exits
    #[arg(long, requires = "netns")]
    keep_netns: bool,
    /// Path of libsockshim.so [default: $SOCKSHIM_SO, beside this binary,
    /// ../lib, or the workspace's target/release]
    #[arg(long, value_name = "PATH")]
    lib: Option<PathBuf>,
    /// Run even a program the shim cannot serve (with a warning)
    #[arg(long)]
    force: bool,
    /// The program and its arguments (after `--`)
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    cmd: Vec<OsString>,
}

#[derive(Subcommand)]
enum NetnsOp {
    /// Make namespace NAME with lo up and a persistent TUN device (idempotent)
    Up {
        name: String,
        /// The TUN device's name
        #[arg(long, env = "SOCKSHIM_TUN", default_value = netns::DEFAULT_TUN)]
        tun: String,
        /// The kernel side's address on the device
        #[arg(long, value_name = "A/N", default_value = netns::KERNEL_ADDR)]
        addr: String,
    },
    /// Kill what runs in namespace NAME and remove it (idempotent)
    Down { name: String },
}

/// A --faults SPEC the shim will accept (checked here, with its reason,
/// rather than by the program's first socket call).
fn parse_faults(spec: &str) -> Result<String, String> {
    stack::faults::FaultSpec::parse(spec).map(|_| spec.to_string())
}

fn run_opts(a: RunArgs, env: Vec<(String, OsString)>) -> run::RunOpts {
    run::RunOpts {
        tun: a.tun,
        addr: a.addr,
        gateway: a.gateway,
        mtu: a.mtu,
        log: a.log,
        faults: a.faults,
        netns: a.netns,
        keep_netns: a.keep_netns,
        lib: a.lib,
        force: a.force,
        cmd: a.cmd,
        env,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Run(a) => run::run(run_opts(a, Vec::new())),
        Cmd::Trace { output, run } => {
            let to = output.map_or_else(|| "stderr".into(), |p| p.into_os_string());
            run::run(run_opts(run, vec![("SOCKSHIM_TRACE".into(), to)]))
        }
        Cmd::Check { cmd } => check(&cmd),
        Cmd::Stat {
            tun,
            watch,
            json,
            interval,
        } => stat::stat(
            &tun,
            watch,
            json,
            std::time::Duration::from_secs_f64(interval.clamp(0.05, 3600.0)),
        ),
        Cmd::Capture {
            file,
            tun,
            count,
            duration,
            pcap,
        } => capture::capture(capture::CaptureOpts {
            tun,
            file,
            pcap,
            count,
            duration: duration.map(|d| std::time::Duration::from_secs_f64(d.clamp(0.0, 1e9))),
        }),
        Cmd::Compare {
            tun,
            addr,
            lib,
            keep,
            cmd,
        } => compare::compare(compare::CompareOpts {
            tun,
            addr,
            lib,
            keep,
            cmd,
        }),
        Cmd::Netns { op } => {
            let r = match &op {
                NetnsOp::Up { name, tun, addr } => netns::up(name, tun, addr).map(|_| ()),
                NetnsOp::Down { name } => netns::down(name),
            };
            match r {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("sockshim netns: {e}");
                    1
                }
            }
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `sockshim check CMD`: one line per finding, "ok" when there is none.
fn check(cmd: &std::ffi::OsStr) -> i32 {
    let path = std::env::var_os("PATH");
    let Some(prog) = servable::which(cmd, path.as_deref()) else {
        eprintln!(
            "sockshim check: {}: command not found",
            cmd.to_string_lossy()
        );
        return run::EXIT_NOT_FOUND;
    };
    let lib = run::find_lib(None)
        .ok()
        .and_then(|l| servable::lib_info(&l));
    let findings = servable::check(
        &prog,
        servable::Ids::current(),
        path.as_deref(),
        lib.as_ref(),
    );
    for f in &findings {
        println!(
            "{}: {}",
            if f.fatal { "cannot serve" } else { "warning" },
            f.why
        );
    }
    if findings.iter().any(|f| f.fatal) {
        run::EXIT_REFUSED
    } else {
        println!("ok: {} can run under the shim", prog.display());
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_everything_after_the_separator() {
        let c = Cli::try_parse_from(["sockshim", "run", "--tun", "t1", "--", "curl", "-v", "--x"])
            .unwrap();
        let Cmd::Run(a) = c.cmd else {
            panic!("not run")
        };
        assert_eq!(a.tun.as_deref(), Some("t1"));
        assert_eq!(a.cmd, ["curl", "-v", "--x"].map(OsString::from));
        assert!(
            Cli::try_parse_from(["sockshim", "run"]).is_err(),
            "CMD is required"
        );
        assert!(Cli::try_parse_from(["sockshim", "run", "--keep-netns", "--", "x"]).is_err());
    }
}
