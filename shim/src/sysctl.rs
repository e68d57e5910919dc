//! The namespace's sysctls (`/proc/sys/net/...`), read as Linux reads them:
//! when a socket is created, so a value a program or a test script sets
//! after the shim attached counts. The files are opened once, at high
//! protected fd numbers, and re-read with `pread` at offset 0 (procfs
//! formats the current value on every read): one system call per file
//! instead of a path walk, open, stat, two reads and a close, which cost
//! about 250 µs per `socket()` here (8 µs without any re-read).
//!
//! `socket()` re-reads them at most once per `REREAD` (10 ms): eighteen
//! preads and their parsing were a sixth of the instructions and half the
//! system calls of a connect-request-response-close transaction. A value
//! changed less than 10 ms after this process's previous socket() counts
//! from the next one read (README, limits).

use std::fs::File;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::fs::FileExt;

use parking_lot::Mutex;
use stack::config::SYSCTL_PATHS;
use stack::Sysctl;

use crate::driver::{to_high_fd, FD_ALLOC};

/// One entry per `SYSCTL_PATHS` entry; `None` where the file is missing.
static FILES: Mutex<Vec<Option<File>>> = Mutex::new(Vec::new());

fn open_high(path: &str) -> Option<File> {
    // Held so the file's brief low number cannot push a concurrent
    // anchor (the program's next fd) up.
    let _alloc = FD_ALLOC.lock();
    let fd = File::open(format!("/proc/sys/{path}")).ok()?.into_raw_fd();
    let hi = to_high_fd(fd);
    // SAFETY: `hi` is an fd we own (the file just opened, or its high copy
    // after the low one was closed); nothing else refers to it.
    Some(unsafe { File::from_raw_fd(hi) })
}

/// How long a read stands for `socket()` (see the module comment).
const REREAD: std::time::Duration = std::time::Duration::from_millis(10);

/// When `refresh` last read the files.
static LAST_READ: Mutex<Option<std::time::Instant>> = Mutex::new(None);

/// For `socket()`: the sysctls now in force, if the last read is older
/// than `REREAD`; None when it still stands.
pub fn refresh() -> Option<Sysctl> {
    let now = std::time::Instant::now();
    {
        let mut last = LAST_READ.lock();
        if last.is_some_and(|t| now.duration_since(t) < REREAD) {
            return None;
        }
        *last = Some(now);
    }
    Some(read_sysctl())
}

/// The sysctls now in force in this namespace.
pub fn read_sysctl() -> Sysctl {
    let mut files = FILES.lock();
    if files.is_empty() {
        *files = SYSCTL_PATHS.iter().map(|p| open_high(p)).collect();
    }
    Sysctl::read_each(|i, buf| files.get(i)?.as_ref()?.read_at(buf, 0).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_give_what_a_fresh_read_gives() {
        let mut fresh = Sysctl::default();
        for path in SYSCTL_PATHS {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/sys/{path}")) {
                fresh.apply(path, &text);
            }
        }
        assert_eq!(read_sysctl(), fresh);
        assert_eq!(read_sysctl(), fresh, "the second read, through pread");
    }

    #[test]
    fn refresh_reads_at_most_once_per_interval() {
        let t0 = std::time::Instant::now();
        refresh();
        let second = refresh();
        if t0.elapsed() < REREAD {
            assert!(second.is_none(), "two reads within {REREAD:?}");
        }
        std::thread::sleep(REREAD);
        assert!(refresh().is_some(), "a read after {REREAD:?}");
    }
}
