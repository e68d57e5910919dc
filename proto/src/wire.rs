//! Byte encoding of the protocol's fields: little helpers that write plain
//! integers and bounded byte strings, and a reader whose every access is
//! bounds-checked (a short or overlong message is `Malformed`, never a
//! panic). Integers are native-endian: both ends run on one host.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A message that does not decode: the service answers EINVAL and drops
/// the client; the client treats it as the service's death.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Appends fields to a message buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_ne_bytes());
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(v as u8)
    }
    /// An optional socket address: a tag byte (0 none, 1 IPv4, 2 IPv6),
    /// then IPv4's 4+2 bytes or IPv6's 16+2 and flow info and scope id.
    pub fn addr(&mut self, a: Option<SocketAddr>) -> &mut Self {
        match a {
            None => self.u8(0),
            Some(SocketAddr::V4(a)) => {
                self.u8(1);
                self.buf.extend_from_slice(&a.ip().octets());
                self.u16(a.port())
            }
            Some(SocketAddr::V6(a)) => {
                self.u8(2);
                self.buf.extend_from_slice(&a.ip().octets());
                self.u16(a.port()).u32(a.flowinfo()).u32(a.scope_id())
            }
        }
    }
    /// A length-prefixed byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.buf.extend_from_slice(b);
        self
    }
}

/// Reads fields from a received message; every read checks the length.
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.b.len() < n {
            return Err(Malformed("message too short"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_ne_bytes(self.arr()?))
    }
    pub fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_ne_bytes(self.arr()?))
    }
    pub fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_ne_bytes(self.arr()?))
    }
    pub fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_ne_bytes(self.arr()?))
    }
    pub fn bool(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Malformed("bad boolean")),
        }
    }
    pub fn addr(&mut self) -> Result<Option<SocketAddr>, Malformed> {
        match self.u8()? {
            0 => Ok(None),
            1 => {
                let ip: [u8; 4] = self.arr()?;
                let port = self.u16()?;
                Ok(Some(SocketAddrV4::new(Ipv4Addr::from(ip), port).into()))
            }
            2 => {
                let ip: [u8; 16] = self.arr()?;
                let port = self.u16()?;
                let (flow, scope) = (self.u32()?, self.u32()?);
                Ok(Some(
                    SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope).into(),
                ))
            }
            _ => Err(Malformed("bad address tag")),
        }
    }
    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], Malformed> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(Malformed("byte string too long"));
        }
        self.take(n)
    }
    /// The message must end here (trailing bytes are malformed).
    pub fn end(&self) -> Result<(), Malformed> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(Malformed("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_short_input_is_malformed() {
        let mut w = Writer::default();
        let a: SocketAddr = SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, 2), 8080).into();
        w.u8(7)
            .u16(300)
            .i32(-5)
            .u64(1 << 40)
            .addr(Some(a))
            .addr(None);
        w.bytes(b"abc").bool(true);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u16(), Ok(300));
        assert_eq!(r.i32(), Ok(-5));
        assert_eq!(r.u64(), Ok(1 << 40));
        assert_eq!(r.addr(), Ok(Some(a)));
        assert_eq!(r.addr(), Ok(None));
        assert_eq!(r.bytes(3), Ok(&b"abc"[..]));
        assert_eq!(r.bool(), Ok(true));
        assert!(r.end().is_ok());
        assert!(r.u8().is_err());
        let mut r = Reader::new(&w.buf[..w.buf.len() - 1]);
        for _ in 0..6 {
            let _ = r.u8();
        }
        assert!(Reader::new(&[5, 0, 0, 0, b'a']).bytes(10).is_err());
        assert!(Reader::new(&[3, 0, 0, 0, 1, 2, 3]).bytes(2).is_err());
    }
}
