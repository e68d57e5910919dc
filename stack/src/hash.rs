//! The hasher of the stack's tables (and the shim's and the service's):
//! a folded multiply over 8-byte words from a per-process random seed,
//! several times cheaper than std's SipHash on the short keys used here
//! (handles, fds, 4-tuples, ports). SipHash was a fifth of the stack
//! service's instructions per connection. The random seed keeps the
//! bucket of a remote 4-tuple unpredictable from outside, as Linux keys
//! its connection hash (`inet_ehashfn`) with a random secret; it does not
//! claim SipHash's strength against an attacker who sees timings.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A `HashMap` with [`FastState`].
pub type FastMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` with [`FastState`].
pub type FastSet<K> = HashSet<K, FastState>;

const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xbf58_476d_1ce4_e5b9;

fn fold(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The per-process seed (from std's random keys, drawn once).
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(K2))
}

/// Builds [`FastHasher`]s from the process's seed.
#[derive(Clone, Copy, Debug)]
pub struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> FastState {
        FastState { seed: seed() }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher { h: self.seed }
    }
}

/// See the module comment.
#[derive(Clone, Copy, Debug)]
pub struct FastHasher {
    h: u64,
}

impl FastHasher {
    fn word(&mut self, x: u64) {
        self.h = fold(self.h ^ x, K1);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.word(i as u64);
    }
    fn write_u16(&mut self, i: u16) {
        self.word(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.word(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.word(i as u32 as u64);
    }
    fn finish(&self) -> u64 {
        fold(self.h, K2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[test]
    fn equal_keys_hash_equal_and_near_keys_spread() {
        let s = FastState::default();
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, 1), 80);
        assert_eq!(s.hash_one((a, a)), s.hash_one((a, a)));
        // 4-tuples that differ only in the remote port: every low bit
        // pattern of 4,096 buckets is about equally used.
        let mut buckets = vec![0u32; 4096];
        for port in 10_000..60_000u16 {
            let b = SocketAddrV4::new(Ipv4Addr::new(10, 7, 0, 2), port);
            buckets[(s.hash_one((a, b)) & 4095) as usize] += 1;
        }
        let max = *buckets.iter().max().unwrap();
        assert!(max < 40, "a bucket holds {max} of 50,000 (mean 12)");
        assert_ne!(s.hash_one(&b"ab"[..]), s.hash_one(&b"ab\0"[..]));
    }

    #[test]
    fn maps_work_with_it() {
        let mut m: FastMap<u32, u32> = FastMap::default();
        for i in 0..10_000 {
            m.insert(i, i * 2);
        }
        assert!((0..10_000).all(|i| m[&i] == i * 2));
        m.retain(|k, _| k % 2 == 0);
        assert_eq!(m.len(), 5_000);
    }
}
