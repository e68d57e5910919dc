//! A connection's loss-recovery state (on its TcpCb, FreeBSD's tcp_var
//! for `tcp_recovery`): Linux's congestion-avoidance state, the SACK
//! scoreboard, RACK, PRR and the tail loss probe in flight.

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
#[derive(Debug, Default)]
pub struct Recovery {
    pub sb: Scoreboard,
    pub state: CaState,
    /// snd_max when recovery or loss began: reaching it ends them.
    pub high_seq: Seq,
    pub prr: Prr,
    pub rack: Rack,
    /// The tail loss probe in flight: snd_max when it was sent (Linux's
    /// tlp_high_seq), and whether it was a retransmission.
    pub tlp_high_seq: Option<Seq>,
    pub tlp_retrans: bool,
    /// Fast recoveries over the connection's life.
    pub recoveries: u32,
    /// What undoing the current fast recovery restores.
    pub undo: Option<Undo>,
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
