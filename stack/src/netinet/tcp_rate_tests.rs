//! Delivery-rate sampling (tcp_rate.rs) end to end on a `Pair` whose
//! A-to-B link is a bottleneck: the rate TCP_INFO reports is the
//! bottleneck's, with SACK and without, and a sender the application
//! starves reports application-limited samples.

use std::time::Duration;

use crate::testing::bottleneck::Bottleneck;
use crate::testing::pair::Pair;
use crate::time::Instant;

/// 10 Mbit/s.
const RATE: u64 = 1_250_000;

fn bottlenecked(seed: u64, sack: bool) -> Pair {
    let mut p = Pair::with_config(seed, |c| c.sysctl.tcp_sack = sack);
    p.params.delay = Duration::from_millis(10);
    p.bottleneck = Some(Bottleneck::new(RATE, 100_000));
    p
}

fn bulk_rate(sack: bool) -> (u64, bool) {
    let mut p = bottlenecked(40, sack);
    let (_l, c, s) = p.connected(8040);
    let data = vec![5u8; 1_500_000];
    assert_eq!(p.transfer(true, c, s, &data).len(), data.len());
    let ti = p.a.tcp_info(c).unwrap();
    assert_eq!(ti.tcpi_options & 2 != 0, sack, "TCPI_OPT_SACK");
    // CUBIC (the tests' default) fills the bottleneck's queue: the link
    // ran saturated, so the rate is the link's.
    let b = p.bottleneck.as_ref().unwrap();
    assert!(b.drops > 0 && b.max_queue_since(Instant::ZERO) > 90_000);
    assert!(b.mean_queue_since(Instant::ZERO) > 20_000);
    (ti.tcpi_delivery_rate, ti.tcpi_delivery_rate_app_limited)
}

#[test]
fn the_delivery_rate_is_the_bottlenecks() {
    for sack in [true, false] {
        let (rate, _) = bulk_rate(sack);
        // Payload of 1500-byte frames: 1448 / 1500 of the link's rate.
        let lo = RATE * 85 / 100;
        assert!(
            (lo..=RATE).contains(&rate),
            "sack {sack}: tcpi_delivery_rate {rate}, link {RATE}"
        );
    }
}

#[test]
fn a_sender_the_application_starves_is_application_limited() {
    let mut p = bottlenecked(41, true);
    let (_l, c, s) = p.connected(8041);
    let fresh = p.a.tcp_info(c).unwrap();
    assert!(
        fresh.tcpi_delivery_rate_app_limited,
        "no sample yet: limited"
    );
    for _ in 0..20 {
        assert_eq!(p.transfer(true, c, s, &[1u8; 1000]).len(), 1000);
        p.drive_for(Duration::from_millis(50));
    }
    let ti = p.a.tcp_info(c).unwrap();
    assert!(ti.tcpi_delivery_rate_app_limited);
    assert!(
        ti.tcpi_delivery_rate > 0 && ti.tcpi_delivery_rate < RATE / 4,
        "one segment per RTT: {}",
        ti.tcpi_delivery_rate
    );
}
