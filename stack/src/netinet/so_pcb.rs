//! What an Internet socket's opaque `so_pcb` holds, and the accessors the
//! protocols use on it: a TCP socket's is a `TcpCb` (whose `inp` is its
//! Inpcb), a UDP socket's an `Inpcb`.

use crate::kern::socket::SoPcb;
use crate::netinet::in_pcb::Inpcb;
use crate::netinet::tcp_var::TcpCb;

/// The Internet protocols' view of the socket layer's opaque `so_pcb`: a
/// TCP socket's holds a `TcpCb` (whose `inp` is its Inpcb), a UDP socket's
/// an `Inpcb`. Present from `pru_attach` until the socket is freed.
pub trait InPcb {
    fn inp(&self) -> &Inpcb;
    fn inp_mut(&mut self) -> &mut Inpcb;
    fn tcp(&self) -> Option<&TcpCb>;
    fn tcp_mut(&mut self) -> Option<&mut TcpCb>;
}

const NO_INPCB: &str = "an Internet socket's PCB is a TcpCb or an Inpcb";

impl InPcb for SoPcb {
    fn inp(&self) -> &Inpcb {
        match self.get::<TcpCb>() {
            Some(tp) => &tp.inp,
            None => self.get::<Inpcb>().expect(NO_INPCB),
        }
    }
    fn inp_mut(&mut self) -> &mut Inpcb {
        if self.get::<TcpCb>().is_some() {
            return &mut self.get_mut::<TcpCb>().expect(NO_INPCB).inp;
        }
        self.get_mut::<Inpcb>().expect(NO_INPCB)
    }
    fn tcp(&self) -> Option<&TcpCb> {
        self.get()
    }
    fn tcp_mut(&mut self) -> Option<&mut TcpCb> {
        self.get_mut()
    }
}
