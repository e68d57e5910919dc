//! The Internet protocols (FreeBSD's sys/netinet and netinet6): IPv4 and
//! IPv6 input/output, ICMP and ICMPv6, IGMPv3 reports,
//! UDP and TCP, over the PCB tables in `in_pcb`. They plug into the socket
//! layer through `kern::protosw::Protosw` (`TCP_USRREQS`, `UDP_USRREQS`) and
//! reach the rest of the stack only through their context, `inet::InetCx`.

pub mod dst_cache;
pub mod icmp;
pub mod icmp6;
pub mod icmp_error;
pub mod icmp_ratelimit;
pub mod igmp;
pub mod igmp_query;
pub mod igmp_state;
pub mod in_ifaddr;
pub mod in_pcb;
pub mod in_pcb_conns;
pub mod in_pcbbind;
pub mod inet;
pub mod ip;
pub mod ip6_ctloutput;
pub mod ip6_input;
pub mod ip6_mcast;
pub mod ip_cmsg;
pub mod ip_input;
pub mod ip_mcast;
pub mod ip_mcast_source;
pub mod ip_msfilter;
pub mod ip_pmtu;
pub mod ip_pmtu_cache;
#[cfg(test)]
mod ip_pmtu_tests;
pub mod ip_reass;
pub mod ipq;
pub mod mc_table;
pub mod so_pcb;
pub mod tcp_ackbatch;
pub mod tcp_bbr;
pub mod tcp_cc;
pub mod tcp_ctlinput;
pub mod tcp_ctloutput;
pub mod tcp_cubic;
pub mod tcp_demux;
pub mod tcp_ecn;
pub mod tcp_fastopen;
pub mod tcp_fastopen_cache;
pub mod tcp_info;
pub mod tcp_input;
pub mod tcp_mtu;
pub mod tcp_notsent;
pub mod tcp_output;
pub mod tcp_pace;
pub mod tcp_prr;
pub mod tcp_push;
pub mod tcp_rack;
pub mod tcp_rare;
pub mod tcp_rate;
pub mod tcp_rate_var;
pub mod tcp_rcvbuf;
pub mod tcp_reass;
pub mod tcp_recovery;
pub mod tcp_recovery_var;
pub mod tcp_rxplace;
pub mod tcp_sack;
pub mod tcp_sack_send;
pub mod tcp_seq;
pub mod tcp_subr;
pub mod tcp_syncache;
#[cfg(test)]
mod tcp_syncache_tests;
pub(crate) mod tcp_syncookie;
#[cfg(test)]
mod tcp_syncookie_tests;
pub mod tcp_synwait;
pub mod tcp_timer;
pub mod tcp_tso;
pub mod tcp_tstamp;
pub mod tcp_urg;
pub mod tcp_usrreq;
pub mod tcp_var;
pub mod udp;
pub(crate) mod udp_gso;
pub mod win_minmax;

#[cfg(test)]
mod tcp_bbr_tests;
#[cfg(test)]
mod tcp_ecn_tests;
#[cfg(test)]
mod tcp_eor_tests;
#[cfg(test)]
mod tcp_fastopen_tests;
#[cfg(test)]
mod tcp_linux_tests;
#[cfg(test)]
mod tcp_memory_tests;
#[cfg(test)]
mod tcp_nagle_tests;
#[cfg(test)]
mod tcp_rate_tests;
#[cfg(test)]
mod tcp_recovery_tests;
#[cfg(test)]
mod tcp_tests;
#[cfg(test)]
mod tcp_wspace_tests;
#[cfg(test)]
mod tcp_zerowin_tests;
