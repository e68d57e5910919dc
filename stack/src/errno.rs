//! Linux errno values. The stack returns `Result<_, Errno>` with exactly the
//! numbers Linux uses, so the shim can hand them to the program unchanged.

use std::fmt;

/// A Linux errno value (x86_64/aarch64 numbering, which agree for these).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident = $val:expr),* $(,)?) => {
        impl Errno {
            $(pub const $name: Errno = Errno($val);)*

            /// The symbolic name ("EAGAIN"), or "E?" for an unknown value.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($val => stringify!($name),)*
                    _ => "E?",
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EPROTO = 71, ENOMSG = 42,
    EACCES = 13, EFAULT = 14, EEXIST = 17, ENODEV = 19, EINVAL = 22, ENFILE = 23, EMFILE = 24,
    ENOTTY = 25, ENOSPC = 28, EPIPE = 32, ENOSYS = 38, ENOPROTOOPT = 92, ENOTSOCK = 88,
    EDESTADDRREQ = 89, EMSGSIZE = 90, EPROTOTYPE = 91, EPROTONOSUPPORT = 93,
    ESOCKTNOSUPPORT = 94, EOPNOTSUPP = 95, EPFNOSUPPORT = 96, EAFNOSUPPORT = 97,
    EADDRINUSE = 98, EADDRNOTAVAIL = 99, ENETDOWN = 100, ENETUNREACH = 101,
    ENETRESET = 102, ECONNABORTED = 103, ECONNRESET = 104, ENOBUFS = 105,
    EISCONN = 106, ENOTCONN = 107, ESHUTDOWN = 108, ETIMEDOUT = 110,
    ECONNREFUSED = 111, EHOSTDOWN = 112, EHOSTUNREACH = 113, EALREADY = 114,
    EINPROGRESS = 115,
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Errno {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_linux_numbers() {
        assert_eq!(Errno::EAGAIN.0, 11);
        assert_eq!(Errno::EINPROGRESS.name(), "EINPROGRESS");
        assert_eq!(Errno(9999).name(), "E?");
        assert_eq!(format!("{:?}", Errno::ECONNREFUSED), "ECONNREFUSED(111)");
    }
}
