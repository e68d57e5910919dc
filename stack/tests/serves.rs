//! `Stack::serves`: the shim asks it before a loopback connect (issue 19);
//! true only for a TCP listener or a bound UDP socket that would take the
//! destination, exact address or wildcard.

use std::net::{Ipv4Addr, SocketAddrV4};

use stack::{Config, SockType, Stack};

fn lo(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
}

#[test]
fn only_listeners_and_bound_udp_sockets_serve() {
    let st = Stack::new(Config::new(Ipv4Addr::new(10, 7, 0, 2), 24));
    let t = st.socket(SockType::Stream, 0).unwrap();
    st.bind(t, lo(8000)).unwrap();
    assert!(
        !st.serves(SockType::Stream, lo(8000)),
        "bound, not listening"
    );
    st.listen(t, 4).unwrap();
    assert!(st.serves(SockType::Stream, lo(8000)));
    assert!(!st.serves(SockType::Stream, lo(8001)), "another port");
    assert!(
        !st.serves(
            SockType::Stream,
            SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 8000)
        ),
        "another loopback address"
    );
    assert!(!st.serves(SockType::Dgram, lo(8000)), "another protocol");

    let w = st.socket(SockType::Stream, 0).unwrap();
    st.bind(w, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8002))
        .unwrap();
    st.listen(w, 4).unwrap();
    assert!(st.serves(
        SockType::Stream,
        SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 8002)
    ));

    let u = st.socket(SockType::Dgram, 0).unwrap();
    assert!(!st.serves(SockType::Dgram, lo(5353)));
    st.bind(u, lo(5353)).unwrap();
    assert!(st.serves(SockType::Dgram, lo(5353)));
    let now = st.last_now();
    st.close(now, t).unwrap();
    assert!(!st.serves(SockType::Stream, lo(8000)), "closed");
}
