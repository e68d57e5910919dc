//! Is a CPU idle now? The service's spin (proto::spin) runs by default
//! only then (SOCKSHIM_SPIN_US unset): with every CPU busy, a spinning
//! service only keeps the client it waits for off a CPU, and on this
//! project's shared two-CPU machine that is what made spinning not pay
//! (docs/architecture.md, "Doorbells and spinning"). /proc/loadavg's
//! count of runnable tasks, read again at most every `REREAD`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// How long one reading stands (a read costs a few microseconds).
const REREAD: Duration = Duration::from_millis(5);

pub struct IdleCpu {
    file: Option<File>,
    cpus: u32,
    at: Option<Instant>,
    idle: bool,
}

impl IdleCpu {
    pub fn new() -> IdleCpu {
        IdleCpu {
            file: File::open("/proc/loadavg").ok(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            at: None,
            idle: false,
        }
    }

    /// Some CPU idle, as last read (read again when `REREAD` passed).
    pub fn now(&mut self, t: Instant) -> bool {
        if self.at.is_some_and(|a| t.duration_since(a) < REREAD) {
            return self.idle;
        }
        self.at = Some(t);
        let mut buf = [0u8; 128];
        self.idle = self
            .file
            .as_ref()
            .and_then(|f| f.read_at(&mut buf, 0).ok())
            .and_then(|n| std::str::from_utf8(&buf[..n]).ok())
            .and_then(|text| proto::spin::idle_cpu(text, self.cpus))
            .unwrap_or(false);
        self.idle
    }
}

impl Default for IdleCpu {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_stands_for_a_while() {
        let mut c = IdleCpu::new();
        let t = Instant::now();
        let first = c.now(t);
        c.idle = !first; // as if the machine changed meanwhile
        assert_eq!(c.now(t + REREAD / 2), !first, "not read again yet");
        let _ = c.now(t + REREAD * 2); // read again: whatever it is now
        assert_eq!(c.at, Some(t + REREAD * 2));
    }
}
