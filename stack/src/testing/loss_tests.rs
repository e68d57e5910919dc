//! Bulk transfer over an impaired link: 1 MiB each way with 5% loss, 5%
//! reordering and 2% duplication must arrive byte-exact, for 20 seeds.

use std::time::Duration;

use crate::testing::pair::{LinkParams, Pair};

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + (i >> 9)) as u8) ^ salt).collect()
}

/// The impaired link: 5% loss, 2% duplication, 5% reordering, 2 ms delay.
pub(super) fn lossy() -> LinkParams {
    LinkParams {
        loss: 0.05,
        duplicate: 0.02,
        reorder: 0.05,
        delay: Duration::from_millis(2),
        ..Default::default()
    }
}

fn run(seed: u64) {
    let mut p = Pair::new(seed);
    let (l, c, s) = p.connected(80);
    p.params = lossy();
    let up = pattern(1 << 20, seed as u8);
    let got = p.transfer(true, c, s, &up);
    assert!(got == up, "seed {seed}: A->B bytes differ");
    let down = pattern(1 << 20, !(seed as u8));
    let got = p.transfer(false, s, c, &down);
    assert!(got == down, "seed {seed}: B->A bytes differ");
    p.params = LinkParams {
        delay: Duration::from_millis(2),
        ..Default::default()
    };
    for (st, h) in [(&p.a, c), (&p.b, s), (&p.b, l)] {
        st.close(p.now, h).unwrap();
    }
    p.drive_for(Duration::from_secs(300));
    assert_eq!(
        (p.a.socket_count(), p.b.socket_count()),
        (0, 0),
        "seed {seed}: all freed"
    );
}

#[test]
fn one_mib_each_way_over_lossy_link_20_seeds() {
    for seed in 1..=20 {
        run(seed);
    }
}

#[test]
fn small_lossy_debug() {
    let mut p = Pair::new(1);
    let (_l, c, s) = p.connected(80);
    p.params = lossy();
    let up = pattern(200_000, 1);
    let got = p.transfer(true, c, s, &up);
    let first = got.iter().zip(&up).position(|(a, b)| a != b);
    assert!(first.is_none(), "first difference at {first:?}");
}

#[test]
fn clean_link_transfer_is_fast_in_virtual_time() {
    let mut p = Pair::new(99);
    let (_l, c, s) = p.connected(80);
    let data = pattern(4 << 20, 3);
    let start = p.now;
    let got = p.transfer(true, c, s, &data);
    assert!(got == data);
    let spent = p.now - start;
    assert!(
        spent < Duration::from_secs(5),
        "4 MiB took {spent:?} of virtual time"
    );
}

#[test]
fn corrupted_frames_are_dropped_by_checksum_and_counted() {
    let mut p = Pair::new(5);
    let (_l, c, s) = p.connected(80);
    p.params = LinkParams {
        corrupt: 0.02,
        loss: 0.01,
        delay: Duration::from_millis(1),
        jitter: Duration::from_millis(1),
        ..Default::default()
    };
    let data = pattern(1 << 20, 9);
    let got = p.transfer(true, c, s, &data);
    assert!(got == data, "bytes arrive intact despite corruption");
    let dropped = p.a.stats().drop_checksum
        + p.b.stats().drop_checksum
        + p.a.stats().drop_malformed
        + p.b.stats().drop_malformed;
    assert!(dropped > 0, "corrupted frames were rejected and counted");
}
