//! `struct sockaddr_in` as bytes: decoding what the program passes to
//! bind/connect/sendto with Linux's checks and errnos, and encoding what we
//! hand back (accept, getsockname, recvfrom). Pure byte logic, no pointers.

use std::net::{Ipv4Addr, SocketAddrV4};

use stack::Errno;

/// sizeof(struct sockaddr_in).
pub const SOCKADDR_IN_LEN: usize = 16;
/// sizeof(struct sockaddr_storage): Linux rejects longer addresses.
pub const SOCKADDR_STORAGE_LEN: usize = 128;

const AF_UNSPEC: u16 = libc::AF_UNSPEC as u16;
const AF_INET: u16 = libc::AF_INET as u16;

fn family(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?))
}

fn inet_fields(bytes: &[u8]) -> SocketAddrV4 {
    let port = u16::from_be_bytes([bytes[2], bytes[3]]);
    let ip = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
    SocketAddrV4::new(ip, port)
}

/// bind(2) on AF_INET (Linux `__inet_bind`): short → EINVAL; a family other
/// than AF_INET → EAFNOSUPPORT, except AF_UNSPEC with INADDR_ANY (tolerated).
pub fn for_bind(bytes: &[u8]) -> Result<SocketAddrV4, Errno> {
    if bytes.len() < SOCKADDR_IN_LEN {
        return Err(Errno::EINVAL);
    }
    let a = inet_fields(bytes);
    match family(bytes) {
        Some(AF_INET) => Ok(a),
        Some(AF_UNSPEC) if a.ip().is_unspecified() => Ok(a),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// connect(2): `Ok(None)` is AF_UNSPEC (dissolve the association).
pub fn for_connect(bytes: &[u8]) -> Result<Option<SocketAddrV4>, Errno> {
    match family(bytes) {
        None => Err(Errno::EINVAL),
        Some(AF_UNSPEC) => Ok(None),
        Some(_) if bytes.len() < SOCKADDR_IN_LEN => Err(Errno::EINVAL),
        Some(AF_INET) => Ok(Some(inet_fields(bytes))),
        Some(_) => Err(Errno::EAFNOSUPPORT),
    }
}

/// sendto/sendmsg destination of a datagram (Linux `udp_sendmsg`): short →
/// EINVAL; AF_UNSPEC is read as AF_INET; other families → EAFNOSUPPORT.
pub fn for_sendto(bytes: &[u8]) -> Result<SocketAddrV4, Errno> {
    if bytes.len() < SOCKADDR_IN_LEN {
        return Err(Errno::EINVAL);
    }
    match family(bytes) {
        Some(AF_INET) | Some(AF_UNSPEC) => Ok(inet_fields(bytes)),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// The 16 bytes of a `struct sockaddr_in` for `a`.
pub fn encode(a: SocketAddrV4) -> [u8; SOCKADDR_IN_LEN] {
    let mut out = [0u8; SOCKADDR_IN_LEN];
    out[..2].copy_from_slice(&AF_INET.to_ne_bytes());
    out[2..4].copy_from_slice(&a.port().to_be_bytes());
    out[4..8].copy_from_slice(&a.ip().octets());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(family: u16, port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut v = vec![0u8; 16];
        v[..2].copy_from_slice(&family.to_ne_bytes());
        v[2..4].copy_from_slice(&port.to_be_bytes());
        v[4..8].copy_from_slice(&ip);
        v
    }

    #[test]
    fn encode_decode_round_trip() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, 1), 8080);
        assert_eq!(for_connect(&encode(a)), Ok(Some(a)));
        assert_eq!(for_bind(&encode(a)), Ok(a));
        assert_eq!(&encode(a)[2..4], &[0x1f, 0x90]);
    }

    #[test]
    fn bind_checks_like_linux() {
        assert_eq!(for_bind(&raw(AF_INET, 1, [0; 4])[..15]), Err(Errno::EINVAL));
        assert_eq!(for_bind(&raw(10, 1, [0; 4])), Err(Errno::EAFNOSUPPORT));
        assert!(for_bind(&raw(AF_UNSPEC, 80, [0; 4])).is_ok());
        assert_eq!(
            for_bind(&raw(AF_UNSPEC, 80, [10, 7, 0, 2])),
            Err(Errno::EAFNOSUPPORT)
        );
    }

    #[test]
    fn connect_checks_like_linux() {
        assert_eq!(for_connect(&[]), Err(Errno::EINVAL));
        assert_eq!(for_connect(&raw(AF_UNSPEC, 0, [0; 4])[..2]), Ok(None));
        assert_eq!(
            for_connect(&raw(AF_INET, 1, [1; 4])[..8]),
            Err(Errno::EINVAL)
        );
        assert_eq!(for_connect(&raw(1, 1, [1; 4])), Err(Errno::EAFNOSUPPORT));
    }

    #[test]
    fn sendto_reads_unspec_as_inet() {
        let a = for_sendto(&raw(AF_UNSPEC, 53, [10, 7, 0, 1])).unwrap();
        assert_eq!(a, SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, 1), 53));
        assert_eq!(
            for_sendto(&raw(AF_INET, 1, [1; 4])[..4]),
            Err(Errno::EINVAL)
        );
        assert_eq!(for_sendto(&raw(10, 1, [1; 4])), Err(Errno::EAFNOSUPPORT));
    }
}
