//! TCP state few connections use, kept together in one box,
//! `TcpCb::rare` (`TcpRare`, declared in tcp_var.rs beside TcpCb), made
//! on first use and given back once it holds nothing again (issue 18: every connection carries its TcpCb, so what most
//! never touch costs one pointer). In it: MSG_ZEROCOPY sends awaiting
//! their ACK, push marks (MSG_EOR record ends and forced pushes,
//! tcp_push.rs), SO_TIMESTAMPING's key origin and marked bytes
//! (tcp_tstamp.rs), a pending D-SACK block, the urgent mark of
//! send(MSG_OOB) (tcp_urg.rs), an active Fast Open's SYN state
//! (tcp_fastopen.rs), a listener's SYN cache (tcp_syncache.rs) and a
//! tcp_notsent_lowat sysctl other than the default.

use crate::errno::Errno;
use crate::netinet::tcp_seq::Seq;
use crate::netinet::tcp_var::{TcpCb, TcpRare, TfoSyn};
use crate::wire::FastOpen;

impl TcpRare {
    /// Holds nothing a new one would not.
    fn is_idle(&self) -> bool {
        self.zc_pending.is_empty()
            && self.push_marks.is_empty()
            && self.tsflags == 0
            && self.tskey == Seq(0)
            && self.tx_tstamps.is_empty()
            && self.dsack.is_none()
            && self.snd_up.is_none()
            && self.tfo.is_none()
            && self.syncache.is_none()
            && self.softerror.is_none()
            && self.notsent_lowat_sys.is_none()
    }
}

impl TcpCb {
    /// The rare state, made on first use.
    pub fn rare_mut(&mut self) -> &mut TcpRare {
        self.rare.get_or_insert_with(Default::default)
    }

    /// Give the rare state back if it holds nothing.
    pub fn rare_release(&mut self) {
        if self.rare.as_ref().is_some_and(|r| r.is_idle()) {
            self.rare = None;
        }
    }

    /// The first push mark after `seq`, if any (a segment from `seq` must
    /// stop there).
    pub fn push_mark_after(&self, seq: Seq) -> Option<Seq> {
        let r = self.rare.as_ref()?;
        r.push_marks.iter().copied().find(|m| m.gt(seq))
    }

    /// Does a segment ending at `end` end at a push mark (PSH)?
    pub fn push_mark_at(&self, end: Seq) -> bool {
        self.rare
            .as_ref()
            .is_some_and(|r| r.push_marks.iter().any(|m| *m == end))
    }

    /// Add a push mark at `seq` unless the last one is there.
    pub fn push_mark(&mut self, seq: Seq) {
        let q = &mut self.rare_mut().push_marks;
        if q.back() != Some(&seq) {
            q.push_back(seq);
        }
    }

    /// SND.UNA reached `ackno`: push marks at or below it go.
    pub fn push_marks_acked(&mut self, ackno: Seq) {
        if let Some(r) = self.rare.as_mut() {
            while r.push_marks.front().is_some_and(|m| m.le(ackno)) {
                r.push_marks.pop_front();
            }
        }
    }

    /// The Fast Open SYN state, made on first use.
    pub fn tfo_mut(&mut self) -> &mut TfoSyn {
        self.rare_mut().tfo.get_or_insert_with(Default::default)
    }

    /// The Fast Open SYN state if there is one.
    pub fn tfo(&self) -> Option<&TfoSyn> {
        self.rare.as_ref()?.tfo.as_deref()
    }

    /// The Fast Open SYN state if there is one, to change.
    pub fn tfo_opt_mut(&mut self) -> Option<&mut TfoSyn> {
        self.rare.as_mut()?.tfo.as_deref_mut()
    }

    /// Data bytes our SYN carried (Linux's syn_data).
    pub fn syn_data(&self) -> usize {
        self.tfo().map_or(0, |t| t.syn_data)
    }

    /// The Fast Open option our SYN carried (Linux's syn_fastopen).
    pub fn syn_fastopen(&self) -> Option<FastOpen> {
        self.tfo().and_then(|t| t.syn_fastopen)
    }

    /// Urgent mode's end (`TcpRare::snd_up`).
    pub fn snd_up(&self) -> Option<Seq> {
        self.rare.as_ref()?.snd_up
    }

    /// The error a timeout reports: the soft error, else ETIMEDOUT
    /// (Linux's tcp_write_err).
    pub fn timeout_error(&self) -> Errno {
        self.rare
            .as_ref()
            .and_then(|r| r.softerror)
            .unwrap_or(Errno::ETIMEDOUT)
    }

    /// SO_TIMESTAMPING's flags (0 when never set).
    pub fn tsflags(&self) -> u32 {
        self.rare.as_ref().map_or(0, |r| r.tsflags)
    }

    /// SOF_TIMESTAMPING_OPT_ID's key origin (0 when never set).
    pub fn tskey(&self) -> Seq {
        self.rare.as_ref().map_or(Seq(0), |r| r.tskey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netinet::in_pcb::Inpcb;

    #[test]
    fn the_box_is_made_on_first_use_and_given_back_when_empty() {
        let mut tp = TcpCb::new(Inpcb::new(64));
        assert!(tp.rare.is_none());
        assert_eq!(tp.push_mark_after(Seq(0)), None);
        tp.push_mark(Seq(10));
        tp.push_mark(Seq(10));
        tp.push_mark(Seq(20));
        assert_eq!(tp.push_mark_after(Seq(10)), Some(Seq(20)));
        assert!(tp.push_mark_at(Seq(10)));
        tp.push_marks_acked(Seq(10));
        tp.rare_release();
        assert!(tp.rare.is_some(), "a mark is left");
        tp.push_marks_acked(Seq(20));
        tp.rare_release();
        assert!(tp.rare.is_none());
        tp.rare_mut().tskey = Seq(5);
        tp.rare_release();
        assert_eq!(tp.tskey(), Seq(5), "a key origin is kept");
    }
}
