//! Per-client limits: how many sockets one client (one process's
//! connection to the service) may hold, and how much socket buffer the
//! sockets it made may reserve. The second is FreeBSD's RLIMIT_SBSIZE
//! (`chgsbsize`: the `sb_hiwat` of both buffers charged to the socket's
//! owner), kept per client rather than per uid, so that one process cannot
//! take the memory of the service every other process on the host shares.
//!
//! Over a cap, socket() and accept() fail as Linux does when it runs out:
//! EMFILE for the count (the process's descriptor table is full), ENOBUFS
//! for buffer memory (inet_create's answer when the socket cannot be
//! allocated; accept(2): "not enough free memory ... limited by the socket
//! buffer limits"). An accept refused leaves the connection queued, as
//! Linux's does when it finds no descriptor.
//!
//! Configured by the service's environment (the starting program's):
//! `SOCKSHIM_CLIENT_MAX_SOCKETS` and `SOCKSHIM_CLIENT_MAX_SBSIZE` (bytes,
//! with an optional k/m/g suffix).

use std::cell::Cell;
use std::rc::Rc;

use stack::Errno;

/// The caps one client is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most sockets one client holds (made, accepted or attached).
    pub sockets: usize,
    /// Most bytes of socket buffer (send + receive high-water marks, as
    /// SO_SNDBUF and SO_RCVBUF report them) the sockets a client made may
    /// reserve together.
    pub sbsize: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            sockets: 65_536,
            // About 29,000 TCP sockets at Linux's default buffers
            // (tcp_wmem 16 KiB + tcp_rmem 128 KiB).
            sbsize: 4 << 30,
        }
    }
}

impl Limits {
    /// The caps from the environment (`get` looks a variable up).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let mut l = Limits::default();
        if let Some(v) = get("SOCKSHIM_CLIENT_MAX_SOCKETS") {
            l.sockets = parse_size(&v)
                .filter(|&n| n > 0 && n <= usize::MAX as u64)
                .ok_or(format!("SOCKSHIM_CLIENT_MAX_SOCKETS={v}: want a count > 0"))?
                as usize;
        }
        if let Some(v) = get("SOCKSHIM_CLIENT_MAX_SBSIZE") {
            l.sbsize = parse_size(&v).filter(|&n| n > 0).ok_or(format!(
                "SOCKSHIM_CLIENT_MAX_SBSIZE={v}: want bytes > 0 (k, m, g allowed)"
            ))?;
        }
        Ok(l)
    }

    /// May a client holding `held` sockets, with `charged` bytes reserved,
    /// take one more socket that reserves `more`?
    pub fn admit(&self, held: usize, charged: u64, more: u64) -> Result<(), Errno> {
        if held >= self.sockets {
            Err(Errno::EMFILE)
        } else if charged.saturating_add(more) > self.sbsize {
            Err(Errno::ENOBUFS)
        } else {
            Ok(())
        }
    }
}

/// "12345", "64k", "16m", "4g" (powers of 1024).
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, shift) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 10),
        b'm' | b'M' => (&v[..v.len() - 1], 20),
        b'g' | b'G' => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// The bytes of buffer reserved by the sockets one client made (its
/// `ui_sbsize`). The client's session and each socket it made share it:
/// the charge lives on with the socket after its maker's connection ends
/// (a forked child may still hold it), and is returned when it closes.
#[derive(Clone, Default, Debug)]
pub struct SbCharge(Rc<Cell<u64>>);

impl SbCharge {
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// Move this client's charge from `old` to `new` bytes (a socket made,
    /// closed, or its buffers resized).
    pub fn change(&self, old: u64, new: u64) {
        self.0
            .set(self.0.get().saturating_sub(old).saturating_add(new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Limits::from_lookup(env(&[])), Ok(Limits::default()));
        assert_eq!(
            Limits::from_lookup(env(&[
                ("SOCKSHIM_CLIENT_MAX_SOCKETS", "8"),
                ("SOCKSHIM_CLIENT_MAX_SBSIZE", "640k")
            ])),
            Ok(Limits {
                sockets: 8,
                sbsize: 640 << 10
            })
        );
        assert_eq!(
            Limits::from_lookup(env(&[("SOCKSHIM_CLIENT_MAX_SBSIZE", "2G")])).map(|l| l.sbsize),
            Ok(2 << 30)
        );
        for bad in ["0", "-1", "lots", "", "12q"] {
            assert!(
                Limits::from_lookup(move |k: &str| {
                    (k == "SOCKSHIM_CLIENT_MAX_SOCKETS").then(|| bad.to_string())
                })
                .is_err(),
                "{bad:?} refused"
            );
        }
    }

    #[test]
    fn the_count_is_emfile_and_the_memory_enobufs() {
        let l = Limits {
            sockets: 2,
            sbsize: 1000,
        };
        assert_eq!(l.admit(1, 500, 500), Ok(()));
        assert_eq!(l.admit(2, 0, 1), Err(Errno::EMFILE));
        assert_eq!(l.admit(1, 600, 401), Err(Errno::ENOBUFS));
        let c = SbCharge::default();
        let also = c.clone();
        c.change(0, 300);
        also.change(0, 200);
        c.change(300, 100);
        assert_eq!(c.get(), 300);
        also.change(1000, 0);
        assert_eq!(c.get(), 0, "never below zero");
    }
}
