//! stderr logging at the SOCKSHIM_LOG level. Saves and restores errno, and
//! writes with the real write(2) so it never re-enters the shim.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use parking_lot::Mutex;

use crate::config::LogLevel;
use crate::real::real;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Warn as u8);
static ONCE: Mutex<Option<HashSet<String>>> = Mutex::new(None);
/// The level was set (by the shim's initialisation or `enabled_early`).
static LEVEL_SET: AtomicBool = AtomicBool::new(false);

pub fn set_level(l: LogLevel) {
    LEVEL.store(l as u8, Ordering::Relaxed);
    LEVEL_SET.store(true, Ordering::Relaxed);
}

/// `enabled`, also before the shim is initialised (a program's AF_UNIX
/// sockets come before its first AF_INET one): SOCKSHIM_LOG is read from
/// the environment the first time.
pub fn enabled_early(l: LogLevel) -> bool {
    if !LEVEL_SET.load(Ordering::Relaxed) {
        if let Some(v) = std::env::var("SOCKSHIM_LOG")
            .ok()
            .and_then(|v| LogLevel::parse(&v))
        {
            LEVEL.store(v as u8, Ordering::Relaxed);
        }
        LEVEL_SET.store(true, Ordering::Relaxed);
    }
    enabled(l)
}

pub fn enabled(l: LogLevel) -> bool {
    l as u8 <= LEVEL.load(Ordering::Relaxed) && l != LogLevel::Off
}

fn emit(msg: &str) {
    // SAFETY: errno is thread-local; we restore what we read.
    let saved = unsafe { *libc::__errno_location() };
    let line = format!("{msg}\n");
    // SAFETY: writing an initialised buffer to fd 2.
    unsafe { (real().write)(2, line.as_ptr() as *const libc::c_void, line.len()) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

pub fn error(msg: &str) {
    if enabled(LogLevel::Error) {
        emit(msg);
    }
}

pub fn info(msg: &str) {
    if enabled(LogLevel::Info) {
        emit(msg);
    }
}

pub fn debug(msg: &str) {
    if enabled(LogLevel::Debug) {
        emit(msg);
    }
}

/// A warning printed once per distinct message.
pub fn warn_once(msg: &str) {
    if !enabled(LogLevel::Warn) {
        return;
    }
    let mut once = ONCE.lock();
    if once
        .get_or_insert_with(HashSet::new)
        .insert(msg.to_string())
    {
        emit(msg);
    }
}
