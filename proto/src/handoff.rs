//! A connection handed to a listener's holder with the listener's
//! readiness (docs/architecture.md, "Accept without a round trip"): the
//! service takes a completed connection off the queue of a listener held
//! by one client, and writes into the listener's anchor, where readiness
//! tokens go, one record naming it, with the new socket's anchor attached
//! by SCM_RIGHTS. A token is one zero byte; a record starts with
//! `MARK` and its length, then the listener's id, the connection's id and
//! its peer's address (`wire` encoding).
//!
//! The kernel never joins two SCM_RIGHTS messages of an AF_UNIX stream
//! socket in one read, and stops a read after one that carries
//! descriptors: a read of at least `READ_BUF` bytes returns some tokens,
//! then at most one whole record (the service keeps at most a few
//! tokens unread, anchor.rs), and the record's descriptor with it.

use std::net::SocketAddr;

use crate::wire::{Malformed, Reader, Writer};

/// First byte of a record (a token is 0).
pub const MARK: u8 = 0xa5;

/// A reader's buffer: room for the unread tokens and one record.
pub const READ_BUF: usize = 256;

/// What one record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handed {
    pub listener: u64,
    pub id: u64,
    pub peer: SocketAddr,
}

/// The record's bytes.
pub fn encode(h: &Handed) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(h.listener).u64(h.id).addr(Some(h.peer));
    let mut out = vec![MARK, w.buf.len() as u8];
    out.extend_from_slice(&w.buf);
    out
}

/// What a read of an anchor got: the tokens, then a record if one came.
/// Anything else (a record cut short, a stray byte) is `Malformed`.
pub fn decode(b: &[u8]) -> Result<Option<Handed>, Malformed> {
    let start = b.iter().position(|&x| x != 0);
    let Some(i) = start else {
        return Ok(None); // tokens only
    };
    let rest = &b[i..];
    if rest[0] != MARK || rest.len() < 2 || rest.len() != 2 + rest[1] as usize {
        return Err(Malformed("not a hand-off record"));
    }
    let mut r = Reader::new(&rest[2..]);
    let (listener, id) = (r.u64()?, r.u64()?);
    let peer = r.addr()?.ok_or(Malformed("hand-off without a peer"))?;
    r.end()?;
    Ok(Some(Handed { listener, id, peer }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_after_tokens_decode_and_garbage_does_not() {
        let v4 = Handed {
            listener: 3,
            id: 1 << 40 | 9,
            peer: "10.7.0.1:40000".parse().unwrap(),
        };
        let v6 = Handed {
            peer: "[fe80::1%2]:80".parse().unwrap(),
            ..v4
        };
        for h in [v4, v6] {
            let rec = encode(&h);
            assert!(rec.len() + 16 <= READ_BUF);
            assert_eq!(decode(&rec), Ok(Some(h)));
            let mut with_tokens = vec![0u8; 8];
            with_tokens.extend_from_slice(&rec);
            assert_eq!(decode(&with_tokens), Ok(Some(h)));
            assert!(decode(&rec[..rec.len() - 1]).is_err(), "cut short");
            let mut longer = rec.clone();
            longer.push(0);
            assert!(decode(&longer).is_err(), "trailing byte");
        }
        assert_eq!(decode(&[0, 0, 0]), Ok(None));
        assert_eq!(decode(&[]), Ok(None));
        assert!(decode(&[0, 7]).is_err());
        assert!(decode(&[MARK]).is_err());
    }
}
