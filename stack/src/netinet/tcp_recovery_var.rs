//! A connection's loss-recovery state (on its TcpCb, FreeBSD's tcp_var
//! for `tcp_recovery`): Linux's congestion-avoidance state, the SACK
//! scoreboard, RACK, PRR and the tail loss probe in flight.
//!
//! What lasts the connection's life (RACK's RTTs and reordering, the
//! count of recoveries, the transmission counter) is kept inline; the
//! rest (`RecoveryLive`: the scoreboard, the state, PRR, undo, the probe
//! in flight) only while data is in flight or an episode is open. Once
//! everything is acknowledged it goes back to the heap (`park_if_idle`),
//! so an idle connection holds none of it (issue 18: memory per held
//! connection). Reading a parked connection's state gives the idle
//! state; writing it takes the storage again.

use std::ops::{Deref, DerefMut};

use super::tcp_prr::Prr;
use super::tcp_rack::Rack;
use super::tcp_sack::Scoreboard;
use super::tcp_seq::Seq;

/// Linux's congestion-avoidance states (enum tcp_ca_state) that recovery
/// uses: Open, Recovery (fast recovery, PRR) and Loss (after an RTO).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaState {
    #[default]
    Open,
    Recovery,
    Loss,
}

/// A connection's loss-recovery state (on its TcpCb, under its lock).
/// Dereferences to the live part (`RecoveryLive`).
#[derive(Debug, Default)]
pub struct Recovery {
    pub rack: Rack,
    /// Fast recoveries over the connection's life.
    pub recoveries: u32,
    /// The scoreboard's transmission counter while parked (RACK orders
    /// transmissions by it, across idle periods too).
    sent: u64,
    live: Option<Box<RecoveryLive>>,
}

/// The part of the recovery state that matters only while data is in
/// flight or an episode is open.
#[derive(Debug)]
pub struct RecoveryLive {
    pub sb: Scoreboard,
    pub state: CaState,
    /// snd_max when recovery or loss began: reaching it ends them.
    pub high_seq: Seq,
    pub prr: Prr,
    /// The tail loss probe in flight: snd_max when it was sent (Linux's
    /// tlp_high_seq), and whether it was a retransmission.
    pub tlp_high_seq: Option<Seq>,
    pub tlp_retrans: bool,
    /// What undoing the current fast recovery restores.
    pub undo: Option<Undo>,
}

impl RecoveryLive {
    /// Nothing in flight, no episode: what a parked connection reads.
    const fn idle(sent: u64) -> RecoveryLive {
        RecoveryLive {
            sb: Scoreboard::resumed(sent),
            state: CaState::Open,
            high_seq: Seq(0),
            prr: Prr::ZERO,
            tlp_high_seq: None,
            tlp_retrans: false,
            undo: None,
        }
    }

    fn is_idle(&self) -> bool {
        self.sb.is_empty()
            && self.state == CaState::Open
            && self.undo.is_none()
            && self.tlp_high_seq.is_none()
    }
}

static IDLE: RecoveryLive = RecoveryLive::idle(0);

impl Recovery {
    /// Nothing is in flight and no episode is open: give the live part's
    /// storage back (the tcp_recovery ACK step calls this last).
    pub fn park_if_idle(&mut self) {
        if let Some(live) = self.live.take_if(|l| l.is_idle()) {
            self.sent = live.sb.sent;
        }
    }

    /// Is the live part on the heap? (tests)
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }
}

impl Deref for Recovery {
    type Target = RecoveryLive;
    fn deref(&self) -> &RecoveryLive {
        self.live.as_deref().unwrap_or(&IDLE)
    }
}

impl DerefMut for Recovery {
    fn deref_mut(&mut self) -> &mut RecoveryLive {
        let sent = self.sent;
        self.live
            .get_or_insert_with(|| Box::new(RecoveryLive::idle(sent)))
    }
}

/// Undo of a needless fast recovery (Linux's undo_marker, undo_retrans,
/// prior_cwnd, prior_ssthresh): when the peer reports every
/// retransmission of the episode as a duplicate (D-SACK, RFC 2883), the
/// losses were reordering and the window goes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Undo {
    /// SND.UNA when the episode began: D-SACKs at or above it count.
    pub marker: Seq,
    /// Retransmissions of the episode not yet reported duplicate.
    pub retrans: u32,
    pub prior_cwnd: usize,
    pub prior_ssthresh: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netinet::tcp_sack::AckSummary;
    use crate::time::Instant;

    #[test]
    fn the_live_part_is_held_only_while_data_is_in_flight() {
        let mut rec = Recovery::default();
        assert!(!rec.is_live(), "a new connection holds none");
        assert!(
            rec.sb.is_empty() && rec.state == CaState::Open,
            "read parked"
        );
        assert!(!rec.is_live(), "reading takes no storage");
        let t = Instant::from_millis(1);
        rec.sb.on_send(Seq(1000), 100, t);
        rec.sb.on_send(Seq(1100), 100, t);
        assert!(rec.is_live());
        rec.park_if_idle();
        assert!(rec.is_live(), "data in flight: kept");
        let mut sum = AckSummary::default();
        rec.sb.ack(Seq(1200), &mut sum);
        rec.undo = Some(Undo {
            marker: Seq(1000),
            retrans: 1,
            prior_cwnd: 10,
            prior_ssthresh: 10,
        });
        rec.park_if_idle();
        assert!(rec.is_live(), "an episode open: kept");
        rec.undo = None;
        rec.park_if_idle();
        assert!(!rec.is_live(), "all acknowledged: parked");
        // The transmission order goes on where it stopped (RACK compares it).
        rec.sb.on_send(Seq(1200), 100, t);
        assert_eq!(rec.sb.last().map(|s| s.order), Some(3));
    }
}
