//! Counters: every dropped frame is counted by reason, and the socket
//! life-cycle events tests check (pru_detach calls, RSTs sent, frees).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! stats {
    ($($name:ident),* $(,)?) => {
        /// Live counters (atomics; no lock).
        #[derive(Debug, Default)]
        pub struct Stats { $(pub $name: AtomicU64,)* }

        /// A copy of the counters at one instant.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct StatsSnapshot { $(pub $name: u64,)* }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }

        impl StatsSnapshot {
            /// Every counter with its name, in declaration order (what
            /// `sockshim stat` prints, as nstat does).
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name),)*]
            }

            /// The first `drop_*` counter that grew from `before` to
            /// this snapshot: why the stack dropped the frame it was
            /// handed in between (`sockshim capture` marks it so).
            pub fn drop_since(&self, before: &StatsSnapshot) -> Option<&'static str> {
                $(
                    if stringify!($name).starts_with("drop_") && self.$name > before.$name {
                        return Some(stringify!($name));
                    }
                )*
                None
            }
        }
    };
}

stats! {
    frames_in,
    frames_out,
    // Frames to one of our own addresses (127.0.0.0/8, our address), fed
    // back into input without reaching the device.
    frames_looped,
    drop_malformed,
    // Neither IPv4 nor IPv6.
    drop_not_ip,
    drop_checksum,
    // Fragments dropped (overlap, duplicate, limits, bogus lengths).
    drop_fragment,
    // Datagrams dropped unfinished after ipfrag_time / ip6frag_time.
    drop_reass_timeout,
    // Fragments queued for reassembly, and datagrams reassembled.
    frags_queued,
    reassembled,
    drop_not_for_us,
    drop_unknown_proto,
    // IPv6 extension headers refused (RFC 8200 §4: options, routing).
    drop_ext_header,
    // Neighbour discovery and MLD: nothing to do on a layer-3 device.
    drop_ndisc,
    drop_no_socket,
    drop_rcvbuf_full,
    // A socket filter (SO_ATTACH_FILTER) said 0 (Linux's TCPFilter and
    // UDP's InErrors count these).
    drop_sk_filter,
    drop_out_of_window,
    drop_paws,
    drop_listen_overflow,
    // SYN cookies (Linux's SyncookiesSent/Recv/Failed): SYN-ACKs sent with
    // a cookie, connections made from a cookie ACK, ACKs whose cookie was
    // not ours or too old (answered with RST).
    syncookies_sent,
    syncookies_recv,
    syncookies_failed,
    tcp_rst_sent,
    tcp_retransmits,
    // Tail loss probes sent (RACK-TLP, tcp_recovery).
    tcp_loss_probes,
    // TCP MSS lowered by an ICMP Packet Too Big / fragmentation needed.
    tcp_pmtu_updates,
    // A destination's path MTU lowered by an ICMP error (ip_pmtu.rs).
    pmtu_updates,
    tcp_segs_in,
    tcp_segs_out,
    udp_in,
    udp_out,
    icmp_in,
    icmp_out,
    // ICMP errors not sent: the peer's or the stack's rate limit
    // (Linux's IcmpOutRateLimitHost / IcmpOutRateLimitGlobal together).
    icmp_out_ratelimited,
    sockets_created,
    sockets_freed,
    pru_detach_calls,
    pru_abort_calls,
    // A reference released from a socket whose so_count was already 0
    // (a bug: caught, counted and refused instead of wrapping).
    so_count_underflows,
    // TCP super-segments left for the device to cut (TSO), and the
    // payload bytes they carried.
    tcp_tso_out,
    tcp_tso_bytes_out,
    // UDP super-datagrams (UDP_SEGMENT) left whole for the device to cut
    // (USO) or for loopback.
    udp_gso_out,
    // Super-frames the kernel handed us whole (its GSO/GRO), and frames
    // whose transport checksum it had checked or left partial.
    gso_frames_in,
    csum_trusted_in,
    // Frames from the device with a virtio_net_hdr we do not take (old
    // UFO, an unknown GSO type, truncated header).
    drop_vnet_hdr,
    // Sent by a socket bound to lo (SO_BINDTODEVICE) to an address not
    // ours: Linux sends it into lo, where no one takes it.
    drop_no_route,
    // TCP segments read straight into their connection's receive buffer
    // (tcp_rxplace.rs), and frames read for a guess that was wrong.
    tcp_rx_placed,
    tcp_rx_misplaced,
    // Internal pacing (tcp_pace.rs): output stopped for the pacing clock
    // with data to send, the pacing timer released data, and how late
    // (microseconds, summed) it ran against the time it was armed for.
    tcp_pace_waits,
    tcp_pace_fired,
    tcp_pace_late_us,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
