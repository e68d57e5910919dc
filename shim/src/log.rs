//! Diagnostics to stderr at the level chosen by SOCKSHIM_LOG
//! (off/error/warn/info/debug, default warn). errno is saved and restored
//! around every message, and the line is written with the real `write` in
//! one call so it never interleaves or re-enters the shim.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::settings::LogLevel;

const UNSET: u8 = u8::MAX;
static LEVEL: AtomicU8 = AtomicU8::new(UNSET);

/// The configured level (read from the environment on first use).
pub fn level() -> LogLevel {
    let v = LEVEL.load(Ordering::Relaxed);
    if v != UNSET {
        return LogLevel::from_u8(v);
    }
    let level = crate::guard::inside(|| {
        std::env::var("SOCKSHIM_LOG")
            .ok()
            .and_then(|s| LogLevel::parse(&s))
            .unwrap_or(LogLevel::Warn)
    });
    LEVEL.store(level as u8, Ordering::Relaxed);
    level
}

pub fn enabled(at: LogLevel) -> bool {
    at != LogLevel::Off && at <= level()
}

/// Writes "sockshim: LEVEL: message\n" to stderr if `at` is enabled.
pub fn emit(at: LogLevel, args: fmt::Arguments<'_>) {
    if !enabled(at) {
        return;
    }
    let saved = crate::sys::errno();
    crate::guard::inside(|| {
        let line = format!("sockshim: {}: {}\n", at.name(), args);
        crate::sys::write_all_stderr(line.as_bytes());
    });
    crate::sys::set_errno(saved);
}

#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($arg:tt)*) => {
        $crate::log::emit($lvl, format_args!($($arg)*))
    };
}
#[macro_export]
macro_rules! log_error { ($($arg:tt)*) => { $crate::log_at!($crate::settings::LogLevel::Error, $($arg)*) }; }
#[macro_export]
macro_rules! log_warn { ($($arg:tt)*) => { $crate::log_at!($crate::settings::LogLevel::Warn, $($arg)*) }; }
#[macro_export]
macro_rules! log_info { ($($arg:tt)*) => { $crate::log_at!($crate::settings::LogLevel::Info, $($arg)*) }; }
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::settings::LogLevel::Debug) {
            $crate::log_at!($crate::settings::LogLevel::Debug, $($arg)*)
        }
    };
}

/// A warning printed at most once per process from this call site.
#[macro_export]
macro_rules! warn_once {
    ($($arg:tt)*) => {{
        static ONCE: ::std::sync::atomic::AtomicBool = ::std::sync::atomic::AtomicBool::new(false);
        if !ONCE.swap(true, ::std::sync::atomic::Ordering::Relaxed) {
            $crate::log_warn!($($arg)*);
        }
    }};
}
