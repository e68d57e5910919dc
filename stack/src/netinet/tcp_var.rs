//! The TCP control block (`TcpCb`, FreeBSD's `struct tcpcb`), TCP states,
//! and a listener's SYN cache entries (`SynCache`, FreeBSD's
//! tcp_syncache.h). All fields are under the owning socket's lock (s).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::in_pcb::Inpcb;
use super::tcp_cubic::CongCtl;
use super::tcp_rate_var::TcpRate;
use super::tcp_reass::Reass;
use super::tcp_recovery_var::Recovery;
use super::tcp_seq::Seq;
use crate::errno::Errno;
use crate::time::{Instant, Secs};
use crate::wire::FastOpen;

/// RFC 9293 connection states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    CloseWait,
    FinWait1,
    Closing,
    LastAck,
    FinWait2,
    TimeWait,
}

impl TcpState {
    /// The number Linux's TCP_INFO reports (tcpi_state).
    pub fn linux_number(self) -> u8 {
        match self {
            TcpState::Established => 1,
            TcpState::SynSent => 2,
            TcpState::SynReceived => 3,
            TcpState::FinWait1 => 4,
            TcpState::FinWait2 => 5,
            TcpState::TimeWait => 6,
            TcpState::Closed => 7,
            TcpState::CloseWait => 8,
            TcpState::LastAck => 9,
            TcpState::Listen => 10,
            TcpState::Closing => 11,
        }
    }

    /// Has our SYN been acknowledged (the connection is synchronized)?
    pub fn synchronized(self) -> bool {
        !matches!(
            self,
            TcpState::Closed | TcpState::Listen | TcpState::SynSent | TcpState::SynReceived
        )
    }

    /// May we still receive data?
    pub fn can_receive(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        )
    }
}

/// RFC 6298 values, with Linux's floor and ceiling.
pub const TCP_RTO_MIN: Duration = Duration::from_millis(200);
pub const TCP_RTO_MAX: Duration = Duration::from_secs(120);
pub const TCP_RTO_INITIAL: Duration = Duration::from_secs(1);
/// TIME_WAIT length on Linux (TCP_TIMEWAIT_LEN).
pub const TCP_TIMEWAIT_LEN: Duration = Duration::from_secs(60);
pub const TCP_DELACK: Duration = Duration::from_millis(40);
/// Linux's TCP_DELACK_MAX: the longest an ACK waits.
pub const TCP_DELACK_MAX: Duration = Duration::from_millis(200);
/// No data for this long and a receive buffer's kept storage is freed
/// (the rbuf timer, tcp_rcvbuf).
pub const TCP_RBUF_IDLE: Duration = Duration::from_secs(1);
/// Data retransmissions before giving up (Linux's tcp_retries2 default).
pub const TCP_RETRIES2: u32 = 15;
pub const TCP_DEFAULT_MSS: u16 = 536;

/// TCP timers (FreeBSD's callouts), as deadlines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTimers {
    pub rexmt: Option<Instant>,
    pub persist: Option<Instant>,
    pub keep: Option<Instant>,
    pub twomsl: Option<Instant>,
    pub delack: Option<Instant>,
    /// RACK-TLP (tcp_recovery): the tail loss probe, and RACK's reorder
    /// timeout.
    pub tlp: Option<Instant>,
    pub reo: Option<Instant>,
}

impl TcpTimers {
    pub fn earliest(&self) -> Option<Instant> {
        [
            self.rexmt,
            self.persist,
            self.keep,
            self.twomsl,
            self.delack,
            self.tlp,
            self.reo,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

#[derive(Debug)]
pub struct TcpCb {
    pub inp: Inpcb,
    pub t_state: TcpState,

    // Send sequence space.
    pub iss: Seq,
    pub snd_una: Seq,
    pub snd_nxt: Seq,
    pub snd_max: Seq,
    pub snd_wnd: u32,
    pub snd_wl1: Seq,
    pub snd_wl2: Seq,
    /// Largest window the peer ever offered (for the persist decision).
    pub max_sndwnd: u32,
    /// Sequence number of the first byte held in so_snd.
    pub snd_buf_seq: Seq,
    /// The application shut down writing: a FIN follows the buffered data.
    pub fin_queued: bool,

    // Receive sequence space.
    pub irs: Seq,
    pub rcv_nxt: Seq,
    /// Right edge we last advertised (rcv_nxt + window).
    pub rcv_adv: Seq,
    pub reass: Reass,
    /// A FIN arrived ahead of missing data: its sequence number.
    pub rcv_fin_at: Option<Seq>,

    // Options.
    pub t_maxseg: usize,
    pub mss_offer: u16,
    pub user_mss: u16,
    /// TCP_INQ: recvmsg reports the bytes left (TCP_CM_INQ).
    pub recvmsg_inq: bool,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub wscale_ok: bool,
    pub ts_ok: bool,
    pub ts_recent: u32,
    pub ts_offset: u32,
    pub sack_ok: bool,
    pub nodelay: bool,
    pub cork: bool,
    /// TCP_KEEPIDLE / TCP_KEEPINTVL (whole seconds, as Linux takes them).
    pub keepidle: Secs,
    pub keepintvl: Secs,
    /// TCP_KEEPCNT and TCP_SYNCNT (1..=127; u8 as Linux's). TCP_SYNCNT
    /// 0 is unset (Linux's icsk_syn_retries): net.ipv4.tcp_syn_retries
    /// for a SYN, tcp_synack_retries for a listener's SYN-ACKs, read when
    /// used (`syn_retries()`).
    pub keepcnt: u8,
    pub syn_retries: u8,
    /// TCP_LINGER2: None = net.ipv4.tcp_fin_timeout; Some(ZERO) = Linux's
    /// -1, no FIN_WAIT_2 wait at all once the socket is closed.
    pub linger2: Option<Secs>,
    /// TCP_DEFER_ACCEPT as SYN-ACK rounds (Linux's rskq_defer_accept).
    pub defer_accept: u32,
    pub user_timeout: u32,
    pub window_clamp: u32,
    /// TCP_NOTSENT_LOWAT (0: the sysctl, unlimited by default; see
    /// `notsent_lowat()`).
    pub notsent_lowat: u32,

    // Round trip and retransmission (RFC 6298), in microseconds as
    // Linux's srtt_us/mdev_us (u32: 12 bytes, not 48; issue 18). Read
    // through `srtt()`, `rttvar()`, `rto()`.
    /// Smoothed RTT; 0 until the first sample (a sample counts at least
    /// 1 us, as Linux's `max(1U, srtt)`).
    srtt_us: u32,
    rttvar_us: u32,
    rto_us: u32,
    pub rxtshift: u32,
    /// Segments retransmitted over the connection's life (TCP_INFO).
    pub total_retrans: u32,
    /// Karn: the segment being timed (sequence, send time).
    pub rtt_seq: Option<(Seq, Instant)>,

    // Congestion control (RFC 5681 + 6582 NewReno).
    pub cwnd: usize,
    pub ssthresh: usize,
    /// The largest flight (bytes) in the last window and the snd_nxt that
    /// ends that window (Linux's max_packets_out / max_packets_seq): slow
    /// start grows cwnd only while cwnd < 2 * max_flight.
    pub max_flight: usize,
    pub max_flight_seq: Seq,
    pub dupacks: u32,
    pub recover: Option<Seq>,
    /// The congestion avoidance algorithm (TCP_CONGESTION) and its state.
    pub cc: CongCtl,
    /// SACK loss recovery: scoreboard, RACK-TLP, PRR (tcp_recovery).
    pub rec: Recovery,

    // Flags.
    pub ack_now: bool,
    pub delack_bytes: u32,
    /// Linux's delayed-ACK engine: quick ACKs left (16 when the first data
    /// arrives), "pingpong" (interactive: we answered within the ACK delay,
    /// so ACKs ride on replies), and when data last arrived.
    pub quickacks: u32,
    pub ato_started: bool,
    pub pingpong: bool,
    pub lrcvtime: Instant,
    /// When data was last sent and an ACK last arrived (TCP_INFO).
    pub lsndtime: Instant,
    pub rcv_tstamp: Instant,
    pub keep_probes: u32,
    pub persist_shift: u32,
    pub t_timers: TcpTimers,
    /// The receive buffer's storage-release timer is armed; it is due at
    /// `lrcvtime + TCP_RBUF_IDLE` (tcp_rcvbuf), so later data moves it.
    /// A flag, not a deadline in `t_timers`: no memory per connection.
    pub rbuf_armed: bool,
    /// The deadline last pushed to the stack's timer heap.
    pub scheduled: Option<Instant>,
    /// RST already sent by close/abort.
    pub rst_sent: bool,

    // TCP Fast Open (RFC 7413, tcp_fastopen.rs).
    /// TCP_FASTOPEN_CONNECT: connect() may leave the SYN to the first write.
    pub fastopen_connect: bool,
    /// TCP_FASTOPEN_NO_COOKIE: data in our SYN without a cookie.
    pub fastopen_no_cookie: bool,
    /// connect() was deferred (Linux's DEFER_CONNECT): SYN-SENT, no SYN
    /// sent yet; the first write sends it with data.
    pub defer_connect: bool,
    /// TCPI_OPT_SYN_DATA: the data of our SYN was acknowledged by the
    /// SYN-ACK, or (passive) the peer's SYN data was accepted.
    pub syn_data_acked: bool,
    /// A passive Fast Open child not yet acknowledged (Linux's
    /// fastopen_rsk): readable and writable in SYN-RECEIVED.
    pub fastopen_child: bool,
    /// A listener's Fast Open queue length (TCP_FASTOPEN; 0: off).
    pub fastopen_qlen: u32,
    /// A blocking writer waits for the handshake (Linux's
    /// sk_write_pending): the ACK of the SYN-ACK waits for its data.
    pub write_pending: bool,

    // Nagle (RFC 896 with Minshall's rule, as Linux's tcp_nagle_check).
    /// End of the last segment sent shorter than an MSS (Linux's snd_sml).
    pub snd_sml: Seq,
    /// The urgent byte's sequence number (Linux's urg_seq) while the
    /// socket's `so_urg` is not `None`.
    pub rcv_up: Seq,
    /// Send a held partial segment now, cork or not (Linux's
    /// TCP_NAGLE_PUSH: TCP_NODELAY set, or TCP_CORK cleared with it).
    pub nagle_push: bool,
    /// The send in progress had MSG_MORE: hold a partial tail as TCP_CORK.
    pub msg_more: bool,
    /// The last write had MSG_MORE: its tail carries no PSH.
    pub more_pending: bool,
    /// tcp_push.rs's skb model: where the unsent tail skb starts (the
    /// next write's start: a new one), and the end of the last push
    /// (Linux's pushed_seq); both from the ISS on (tcp_push_init).
    pub skb_tail: Seq,
    pub pushed_seq: Seq,
    /// When our first SYN left (Linux's retrans_stamp for a SYN): a
    /// SYN-ACK must echo a timestamp from then to now.
    pub syn_stamp: Instant,
    /// Receive-buffer autotuning's measurement (tcp_rcvbuf.rs).
    pub rcvq: RcvSpace,
    /// Explicit Congestion Notification (tcp_ecn.rs).
    pub ecn: Ecn,
    /// Segments the peer received, as Linux's tp->delivered (TCP_INFO's
    /// tcpi_delivered): 1 for our SYN or SYN-ACK (with any Fast Open data
    /// in it), then the data acknowledged or SACKed, in segments of the
    /// MSS (each ACK's newly delivered bytes rounded up), a FIN alone as
    /// one.
    pub delivered: u32,
    /// Delivery-rate sampling's application-limited mark and last sample
    /// (tcp_rate.rs).
    pub rate: TcpRate,
    /// What few connections use (zerocopy sends, push marks, TX
    /// timestamps, a D-SACK, urgent mode, an active Fast Open's SYN, a
    /// listener's SYN cache): boxed while used (tcp_rare.rs).
    pub rare: Option<Box<TcpRare>>,
}

/// What few connections use, boxed in `TcpCb::rare` while used (its
/// accessors in tcp_rare.rs).
#[derive(Debug, Default)]
pub struct TcpRare {
    /// MSG_ZEROCOPY sends not yet acknowledged: (sequence after the
    /// send's last byte, notification id).
    pub zc_pending: VecDeque<(Seq, u32)>,
    /// Ends of Linux skbs that carry PSH inside the data, not yet
    /// acknowledged: MSG_EOR record ends (TCP_SKB_CB(skb)->eor) and forced
    /// pushes (tcp_push.rs). No segment crosses one, and one ending there
    /// carries PSH.
    pub push_marks: VecDeque<Seq>,
    /// SO_TIMESTAMPING (tcp_tstamp.rs): its SOF_TIMESTAMPING_* flags,
    /// the key origin of SOF_TIMESTAMPING_OPT_ID (Linux's sk_tskey), and
    /// the last byte of each timestamped send not yet acknowledged, with
    /// whether it has left.
    pub tsflags: u32,
    pub tskey: Seq,
    pub tx_tstamps: VecDeque<(Seq, bool)>,
    /// A duplicate segment's range to report in the next ACK's first SACK
    /// block (RFC 2883 D-SACK, Linux's tcp_dsack_set).
    pub dsack: Option<(Seq, Seq)>,
    /// Urgent mode's end: the sequence number after the last urgent byte
    /// sent (Linux's snd_up), until SND.UNA passes it.
    pub snd_up: Option<Seq>,
    /// An active Fast Open's SYN (kept for the connection's life: TCP_INFO
    /// and the SYN-ACK's handling read it).
    pub tfo: Option<Box<TfoSyn>>,
    /// The last ICMP error an established connection heard without
    /// IP_RECVERR (Linux's sk_err_soft): a timeout reports it instead of
    /// ETIMEDOUT; an ACK of new data clears it.
    pub softerror: Option<Errno>,
    /// A listener's half-open connections (while it listens).
    pub syncache: Option<Box<SynCache>>,
    /// net.ipv4.tcp_notsent_lowat when the socket was made, unless it was
    /// the default (no mark): what TCP_NOTSENT_LOWAT 0 stands for.
    pub notsent_lowat_sys: Option<u32>,
}

/// An active Fast Open's SYN (RFC 7413, tcp_fastopen.rs).
#[derive(Debug, Default)]
pub struct TfoSyn {
    /// The Fast Open option and data bytes of our first SYN (taken when
    /// it is sent; a retransmitted SYN carries neither, as Linux).
    pub req: Option<(Option<FastOpen>, usize)>,
    /// Our SYN carried a Fast Open option (Linux's syn_fastopen), in the
    /// experimental form (syn_fastopen_exp).
    pub syn_fastopen: Option<FastOpen>,
    /// Data bytes our SYN carried (Linux's syn_data).
    pub syn_data: usize,
    /// Bytes a blocking Fast Open send put in the SYN while its caller
    /// waits for the handshake: the call that completes it reports them
    /// (with what it adds) and skips them in its data.
    pub copied: Option<usize>,
}

impl TcpCb {
    /// The listener's SYN cache (made on first use: `listen` makes it
    /// with its limit).
    /// The unsent-bytes mark in force (Linux's tcp_notsent_lowat()): the
    /// option, else the sysctl; u32::MAX is none.
    pub fn notsent_lowat(&self) -> u32 {
        match self.notsent_lowat {
            0 => self
                .rare
                .as_ref()
                .and_then(|r| r.notsent_lowat_sys)
                .unwrap_or(u32::MAX),
            v => v,
        }
    }

    /// Keep net.ipv4.tcp_notsent_lowat as it is when the socket is made
    /// (in the rare box, unless it is Linux's default, UINT_MAX).
    pub fn set_notsent_lowat_sys(&mut self, v: u32) {
        if v != u32::MAX {
            self.rare_mut().notsent_lowat_sys = Some(v);
        }
    }

    pub fn syncache(&mut self) -> &mut SynCache {
        self.rare_mut()
            .syncache
            .get_or_insert_with(Default::default)
    }

    /// The earliest deadline of every timer, the rbuf and pacing timers'
    /// included.
    pub fn next_timer(&self) -> Option<Instant> {
        let rbuf = self.rbuf_armed.then(|| self.lrcvtime + TCP_RBUF_IDLE);
        let pace = self.cc.bbr().and_then(|b| b.pace_timer);
        [self.t_timers.earliest(), rbuf, pace]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn new(inp: Inpcb) -> TcpCb {
        TcpCb {
            inp,
            t_state: TcpState::Closed,
            iss: Seq(0),
            snd_una: Seq(0),
            snd_nxt: Seq(0),
            snd_max: Seq(0),
            snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: Seq(0),
            max_sndwnd: 0,
            snd_buf_seq: Seq(0),
            fin_queued: false,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_adv: Seq(0),
            reass: Reass::new(),
            rcv_fin_at: None,
            t_maxseg: TCP_DEFAULT_MSS as usize,
            mss_offer: 1460,
            user_mss: 0,
            recvmsg_inq: false,
            snd_wscale: 0,
            rcv_wscale: 0,
            wscale_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_offset: 0,
            sack_ok: false,
            nodelay: false,
            cork: false,
            keepidle: Secs::from(Duration::from_secs(7200)),
            keepintvl: Secs::from(Duration::from_secs(75)),
            keepcnt: 9,
            syn_retries: 0,
            linger2: None,
            defer_accept: 0,
            user_timeout: 0,
            window_clamp: 0,
            notsent_lowat: 0,
            srtt_us: 0,
            rttvar_us: 0,
            rto_us: usecs(TCP_RTO_INITIAL) as u32,
            rxtshift: 0,
            total_retrans: 0,
            rtt_seq: None,
            cwnd: 0,
            max_flight: 0,
            max_flight_seq: Seq(0),
            ssthresh: usize::MAX,
            dupacks: 0,
            recover: None,
            cc: CongCtl::default(),
            rec: Recovery::default(),
            ack_now: false,
            delack_bytes: 0,
            quickacks: 0,
            ato_started: false,
            pingpong: false,
            lrcvtime: Instant::ZERO,
            lsndtime: Instant::ZERO,
            rcv_tstamp: Instant::ZERO,
            keep_probes: 0,
            persist_shift: 0,
            t_timers: TcpTimers::default(),
            rbuf_armed: false,
            scheduled: None,
            rst_sent: false,
            fastopen_connect: false,
            fastopen_no_cookie: false,
            defer_connect: false,
            syn_data_acked: false,
            fastopen_child: false,
            fastopen_qlen: 0,
            write_pending: false,
            snd_sml: Seq(0),
            rcv_up: Seq(0),
            nagle_push: false,
            msg_more: false,
            more_pending: false,
            skb_tail: Seq(0),
            pushed_seq: Seq(0),
            syn_stamp: Instant::ZERO,
            rcvq: Default::default(),
            ecn: Ecn::default(),
            delivered: 0,
            rate: TcpRate::default(),
            rare: None,
        }
    }

    /// Sequence number of our FIN, if one is queued.
    pub fn fin_seq(&self, snd_cc: usize) -> Option<Seq> {
        self.fin_queued.then(|| self.snd_buf_seq + snd_cc)
    }

    /// Bytes in flight.
    pub fn flight(&self) -> usize {
        self.snd_max.diff(self.snd_una).max(0) as usize
    }

    /// RFC 6298 (2.2)/(2.3) as Linux's tcp_rtt_estimator and
    /// __tcp_set_rto: the variance term is at least tcp_rto_min (200 ms),
    /// so the RTO is SRTT + max(4 * RTTVAR, 200 ms), not max(SRTT + 4 *
    /// RTTVAR, 200 ms).
    pub fn rtt_update(&mut self, rtt: Duration) {
        let rtt = usecs(rtt);
        let (srtt, rttvar) = match self.srtt_us {
            0 => (rtt, rtt / 2),
            srtt => {
                let srtt = u64::from(srtt);
                let delta = srtt.abs_diff(rtt);
                (
                    (srtt * 7 + rtt) / 8,
                    (u64::from(self.rttvar_us) * 3 + delta) / 4,
                )
            }
        };
        self.srtt_us = srtt.clamp(1, u32::MAX as u64) as u32;
        self.rttvar_us = rttvar.min(u32::MAX as u64) as u32;
        let rto = u64::from(self.srtt_us) + (rttvar * 4).max(usecs(TCP_RTO_MIN));
        self.rto_us = rto.min(usecs(TCP_RTO_MAX)) as u32;
    }

    /// The smoothed RTT, once there is a sample.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt_us != 0).then(|| Duration::from_micros(self.srtt_us.into()))
    }

    /// The RTT variation (0 before the first sample).
    pub fn rttvar(&self) -> Duration {
        Duration::from_micros(self.rttvar_us.into())
    }

    /// TCP_SYNCNT, or net.ipv4.tcp_syn_retries when it is unset (what
    /// getsockopt reports and a SYN's retries use).
    pub fn syn_retries(&self, cx: &impl crate::netinet::inet::InetCx) -> u32 {
        match self.syn_retries {
            0 => cx.sysctl().tcp_syn_retries,
            n => n.into(),
        }
    }

    /// The current RTO, without backoff.
    pub fn rto(&self) -> Duration {
        Duration::from_micros(self.rto_us.into())
    }

    /// Forget the RTT estimate: the initial RTO again (RFC 6298 (5.7)).
    pub fn rtt_reset(&mut self) {
        self.srtt_us = 0;
        self.rttvar_us = 0;
        self.rto_us = usecs(TCP_RTO_INITIAL) as u32;
    }

    /// The current RTO with exponential backoff.
    pub fn rto_backed_off(&self) -> Duration {
        self.rto_shifted(self.rxtshift)
    }

    /// The RTO's backoff (Linux's icsk_backoff): the retransmissions,
    /// less a SYN's first `syn_linear` (net.ipv4.tcp_syn_linear_timeouts),
    /// which wait the initial RTO again.
    pub fn backoff(&self, syn_linear: u32) -> u32 {
        match self.t_state {
            TcpState::SynSent => self.rxtshift.saturating_sub(syn_linear),
            _ => self.rxtshift,
        }
    }

    /// The RTO doubled `shift` times, at most TCP_RTO_MAX.
    pub fn rto_shifted(&self, shift: u32) -> Duration {
        (self.rto() * (1u32 << shift.min(16))).min(TCP_RTO_MAX)
    }
}

/// A duration in whole microseconds (saturating).
fn usecs(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What the peer's SYN offered, kept until the handshake completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: u16,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    /// Peer's TSval, when timestamps were negotiated.
    pub ts_recent: Option<u32>,
    /// The SYN asked for ECN and we agreed (tcp_ecn.rs).
    pub ecn_ok: bool,
}

/// A connection's ECN state (tcp_ecn.rs) (Linux's tp->ecn_flags and the CWR episode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ecn {
    /// Both ends agreed to ECN (TCP_ECN_OK).
    pub ok: bool,
    /// A CE mark was received: every segment carries ECE until the
    /// peer's CWR (TCP_ECN_DEMAND_CWR).
    pub demand_cwr: bool,
    /// The window was reduced: the next new data carries CWR
    /// (TCP_ECN_QUEUE_CWR).
    pub queue_cwr: bool,
    /// The window reduction in progress (Linux's CWR state) lasts until
    /// SND.UNA reaches this (its high_seq).
    pub cwr_high: Option<Seq>,
}

/// One half-open connection (SYN received, SYN-ACK sent).
#[derive(Clone, Debug)]
pub struct SynEntry {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub iss: Seq,
    pub irs: Seq,
    pub peer: SynOptions,
    /// Our window scale, if negotiated.
    pub rcv_wscale: u8,
    pub ts_offset: u32,
    pub retransmits: u32,
    /// The peer's bare ACK came while TCP_DEFER_ACCEPT holds the
    /// connection back for data (Linux's inet_rsk(req)->acked).
    pub acked: bool,
    pub first_sent: Instant,
    pub rexmt_at: Instant,
}

/// A loopback SYN waiting for room in the accept queue (tcp_synwait.rs).
#[derive(Clone, Debug)]
pub struct SynWait {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The TCP segment as it arrived (header, options, data).
    pub segment: Vec<u8>,
    /// How much of its data the socket filter kept.
    pub keep: usize,
    /// The IP header's ECN field.
    pub ip_ecn: u8,
    pub until: Instant,
}

/// A listener's half-open connections, on its TcpCb (under its lock).
#[derive(Debug, Default)]
pub struct SynCache {
    pub entries: VecDeque<SynEntry>,
    /// Twice the backlog given to the first listen(), within 32..8192:
    /// the most entries ever kept (the queue is full earlier, at the
    /// backlog, as Linux's inet_csk_reqsk_queue_is_full).
    pub limit: usize,
    /// When the queue last overflowed into SYN cookies (Linux's
    /// tcp_synq_overflow): cookie ACKs are checked for two minutes after.
    pub last_overflow: Option<Instant>,
    /// accept(2) has looked at the listener's queue: someone drains it.
    pub accepting: bool,
    /// Loopback SYNs waiting for room in the accept queue (tcp_synwait.rs).
    pub waiting: VecDeque<SynWait>,
}

impl SynCache {
    pub fn new(qlimit: u32) -> SynCache {
        SynCache {
            entries: VecDeque::new(),
            limit: (qlimit as usize).clamp(16, 4096) * 2,
            last_overflow: None,
            accepting: false,
            waiting: VecDeque::new(),
        }
    }

    pub fn find(&self, local: SocketAddr, remote: SocketAddr) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.local == local && e.remote == remote)
    }
}

/// Receive-buffer autotuning's measurement in progress (Linux's
/// `tp->rcvq_space`; tcp_rcvbuf.rs).
#[derive(Clone, Copy, Debug, Default)]
pub struct RcvSpace {
    /// Bytes read in the last measured round trip (0: not started).
    pub space: usize,
    /// Where the application had read up to when this one started.
    pub seq: Option<Seq>,
    pub time: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rto_follows_rfc6298_with_floor() {
        let mut tp = TcpCb::new(Inpcb::new(64));
        tp.rtt_update(Duration::from_millis(10));
        assert_eq!(
            tp.rto(),
            Duration::from_millis(210),
            "SRTT + 200 ms like Linux"
        );
        tp.rtt_update(Duration::from_millis(1000));
        // SRTT 10 + 990 / 8, RTTVAR (5 * 3 + 990) / 4 ms.
        assert_eq!(tp.srtt(), Some(Duration::from_micros(133_750)));
        assert_eq!(tp.rttvar(), Duration::from_micros(251_250));
        assert_eq!(tp.rto(), Duration::from_micros(133_750 + 4 * 251_250));
        tp.rxtshift = 3;
        assert_eq!(tp.rto_backed_off(), (tp.rto() * 8).min(TCP_RTO_MAX));
        tp.rxtshift = 40;
        assert_eq!(tp.rto_backed_off(), TCP_RTO_MAX);
        // A zero sample still counts as a measurement (Linux's 1 us floor).
        tp.rtt_reset();
        assert_eq!((tp.srtt(), tp.rto()), (None, TCP_RTO_INITIAL));
        tp.rtt_update(Duration::ZERO);
        assert_eq!(tp.srtt(), Some(Duration::from_micros(1)));
        assert_eq!(tp.rto(), TCP_RTO_MIN + Duration::from_micros(1));
    }

    #[test]
    fn states_report_linux_numbers() {
        assert_eq!(TcpState::Established.linux_number(), 1);
        assert_eq!(TcpState::Listen.linux_number(), 10);
        assert!(TcpState::FinWait2.can_receive());
        assert!(!TcpState::SynReceived.synchronized());
    }
}
