//! The control messages: one `Request` from the client, one `Reply` from
//! the service, in order, on the client's connection (a SOCK_SEQPACKET
//! unix socket, so one message is one record). A request never blocks in
//! the service: a call that would block returns EAGAIN, and with `wait`
//! set the service also registers interest so that it makes the socket's
//! anchor readable (a token byte) when the call may succeed; the client
//! then blocks in the kernel, in a poll or read on its anchor.
//!
//! Sockets are named by `id` (the stack's handle, `SocketHandle::as_u64`);
//! the service accepts an id only from a connection that created, accepted
//! or attached that socket (attach = prove you hold the anchor by passing
//! it with SCM_RIGHTS). Anchors travel with `Socket`, `Accept` (service →
//! client) and `Attach` (client → service) as SCM_RIGHTS, not in the bytes.

use std::net::SocketAddr;

use stack::{DgramInfo, Domain, Errno, SockInfo, SockType};

use crate::wire::{Malformed, Reader, Writer};
use crate::{MAX_ATTACH, MAX_DATA, MAX_OPT, MAX_POLL, MAX_SPARES};

/// A client's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// First message: the client's protocol version.
    Hello {
        version: u32,
    },
    /// socket(domain, ty, protocol): replies `Body::Socket`, anchor attached.
    /// With `spares` > 0 the service may also make up to that many more
    /// sockets of the same kind ahead of time (at most `MAX_SPARES`), for
    /// the client's next socket() calls: then it replies `Body::Spares`,
    /// their anchors attached after the new socket's (docs/architecture.md,
    /// "Sockets made ahead").
    Socket {
        domain: Domain,
        ty: SockType,
        protocol: i32,
        spares: u8,
    },
    /// `count` anchors ride along by SCM_RIGHTS: replies `Body::Ids`, the
    /// socket of each (`NOT_AN_ANCHOR`: not an anchor of this service).
    Attach {
        count: u16,
    },
    /// The client closed a descriptor of `id`: if that was the last
    /// reference anywhere, close the socket now (not later, when the
    /// service's poll reports the anchor's hang-up). `last`: it was the
    /// client's last descriptor of `id` (its descriptor count, kept by
    /// the shim's fd table, fell to zero): the client no longer holds the
    /// socket, which another process may now hold alone (back on the
    /// region's fast paths).
    Closed {
        id: u64,
        last: bool,
    },
    /// `Closed` with `last`, and no reply: the client's last descriptor of
    /// a connected stream socket it held alone, to a peer beyond the
    /// device, where nothing in any process waits on the close's effect
    /// (the anchor's hang-up closes the socket even if this message is
    /// never read). Saves the round trip of each connection's close.
    ClosedPost {
        id: u64,
    },
    /// No reply until every socket whose descriptors are all gone is
    /// closed (the loop may not have reached their hang-ups yet): sent by
    /// a client that found a port in use in the kernel's port space (a
    /// loopback reservation's bind), where a close that has returned, its
    /// own or another process's, may still hold it. Replies `Body::None`.
    Settle,
    Bind {
        id: u64,
        addr: SocketAddr,
    },
    Listen {
        id: u64,
        backlog: i32,
    },
    /// Replies `Body::Accepted`, the new socket's anchor attached.
    Accept {
        id: u64,
        wait: bool,
    },
    /// With `wait` (a blocking connect): when the connection is in
    /// progress, the service also registers the wait as `ConnectStatus`
    /// with `wait` does, so the client goes to sleep on its anchor without
    /// asking again first.
    Connect {
        id: u64,
        addr: Option<SocketAddr>,
        wait: bool,
    },
    /// `Connect` with `wait`, and no reply: a blocking connect of a
    /// stream socket the client holds alone, which goes to sleep on its
    /// anchor at once. An outcome known at once (an error, or success)
    /// is kept for the socket's next `ConnectStatus` and its token set,
    /// so the sleep ends and asks; otherwise the token comes when the
    /// connection opens or fails, as for `Connect` with `wait`.
    ConnectPost {
        id: u64,
        addr: SocketAddr,
    },
    /// Ok(Bool(true)) connected, Err(EAGAIN) still connecting.
    ConnectStatus {
        id: u64,
        wait: bool,
    },
    Send {
        id: u64,
        flags: i32,
        to: Option<SocketAddr>,
        wait: bool,
        data: &'a [u8],
    },
    /// A stream send the client has already reported done (it saw room
    /// for all of it in its status region, `crate::region`): no reply.
    /// The service takes the data, then counts it in the region's header.
    Post {
        id: u64,
        flags: i32,
        data: &'a [u8],
    },
    /// The client took bytes from the socket's receive ring while its
    /// slot said the service holds more (`region::F_RX_WAITING`): push
    /// more. No reply.
    RxMore {
        id: u64,
    },
    Recv {
        id: u64,
        flags: i32,
        len: u32,
        wait: bool,
    },
    Shutdown {
        id: u64,
        how: i32,
    },
    Getsockname {
        id: u64,
    },
    Getpeername {
        id: u64,
    },
    Setsockopt {
        id: u64,
        level: i32,
        name: i32,
        val: &'a [u8],
    },
    /// `Setsockopt` without a reply, for an option that cannot fail on a
    /// socket the client holds alone in ESTABLISHED (TCP_NODELAY,
    /// SO_KEEPALIVE: shim/src/net.rs `NO_REPLY_OPTS`); a failure is only
    /// counted (`posts_refused`).
    SetsockoptPost {
        id: u64,
        level: i32,
        name: i32,
        val: &'a [u8],
    },
    /// `val`: the start of the caller's buffer, for the options that
    /// read it before they answer (`stack::linux::getsockopt_input_len`);
    /// empty for the others.
    Getsockopt {
        id: u64,
        level: i32,
        name: i32,
        len: u32,
        val: &'a [u8],
    },
    Sockinfo {
        id: u64,
    },
    /// Readiness of each socket: POLL* bits in the low 16 bits of each
    /// value, a count of its readiness changes in the high 16 (for
    /// edge-triggered epoll). With `wait`, interest in `events` is
    /// registered for those not ready.
    Poll {
        items: Vec<(u64, u32)>,
        wait: bool,
    },
    /// `sockshim stat`: the stack's sockets from the `skip`th on, and its
    /// counters; replies `Body::Text` (see service/src/stat.rs for the
    /// lines). Trusted clients only (it shows every socket).
    Stat {
        skip: u32,
    },
    /// `sockshim capture`: one SOCK_SEQPACKET socket rides along by
    /// SCM_RIGHTS; the service copies every frame to it until it is closed
    /// (service/src/capture.rs). Trusted clients only.
    Capture,
    /// Has the stack a socket of type `ty` for `addr` (a TCP listener, a
    /// bound UDP socket)? Replies `Body::Bool`. Asked before a loopback
    /// connect (issue 19): if not, the client takes a kernel socket.
    Serves {
        ty: SockType,
        addr: SocketAddr,
    },
    /// `Stack::accept_head_rcvtime` of listener `id`: `Body::Count` (stack
    /// micros), EAGAIN when nothing is queued. A shadow listener orders its
    /// kernel-side connections against it (issue 19).
    AcceptHead {
        id: u64,
    },
    /// O_NONBLOCK of the socket's open file, as a process holding it set
    /// it (fcntl, FIONBIO): published in the slot of every client holding
    /// the socket (`region::F_NONBLOCK`) before the reply, so that another
    /// process sharing it reads it there, without a system call.
    SetNonblock {
        id: u64,
        on: bool,
    },
    /// The kernel sockets of socket `id`'s loopback reservation (issue
    /// 19), `count` (1 or 2) of them attached by SCM_RIGHTS: made and
    /// bound by the client, held by the service from then on, as long as
    /// the socket (service/src/reservation.rs). Replies `Body::None`.
    Reserved {
        id: u64,
        count: u16,
    },
    /// A copy of kernel socket `index` of socket `id`'s reservation (or,
    /// after `Moved`, of the kernel socket it became), attached to the
    /// reply (`Body::None`); ENOENT when there is none.
    Reservation {
        id: u64,
        index: u8,
    },
    /// Socket `id` became the kernel socket attached (SCM_RIGHTS) at a
    /// loopback connect (issue 19): the other processes holding it take
    /// it in its place (`F_MOVED`, then `Reservation`). Replies
    /// `Body::None`.
    Moved {
        id: u64,
    },
}

/// What a successful request returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    None,
    Socket {
        id: u64,
    },
    /// `Socket` with sockets made ahead: the new socket `id`, then the
    /// `spares` made for the client's next socket() calls (anchors in that
    /// order), which it may take without asking for `fresh_us`
    /// microseconds from now (while the namespace's sysctls they were
    /// made with still stand, as a `Socket` would read them then).
    Spares {
        id: u64,
        spares: Vec<u64>,
        fresh_us: u64,
    },
    Accepted {
        id: u64,
        peer: SocketAddr,
    },
    Ids(Vec<u64>),
    Count(u64),
    Recv {
        full_len: u64,
        from: Option<SocketAddr>,
        data: &'a [u8],
        /// A datagram's arrival, for its control messages.
        info: Option<DgramInfo>,
    },
    Addr(SocketAddr),
    Bool(bool),
    Opt {
        len: u64,
        data: &'a [u8],
    },
    Info(SockInfo),
    Ready(Vec<u32>),
    /// Lines of text (`Stat`).
    Text(&'a [u8]),
}

/// The service's answer to one request.
pub type Reply<'a> = Result<Body<'a>, Errno>;

fn domain_code(d: Domain) -> u8 {
    match d {
        Domain::Inet => 4,
        Domain::Inet6 => 6,
    }
}

fn domain_from(c: u8) -> Result<Domain, Malformed> {
    match c {
        4 => Ok(Domain::Inet),
        6 => Ok(Domain::Inet6),
        _ => Err(Malformed("bad socket domain")),
    }
}

fn ty_code(t: SockType) -> u8 {
    match t {
        SockType::Stream => 1,
        SockType::Dgram => 2,
    }
}

fn ty_from(c: u8) -> Result<SockType, Malformed> {
    match c {
        1 => Ok(SockType::Stream),
        2 => Ok(SockType::Dgram),
        _ => Err(Malformed("bad socket type")),
    }
}

impl<'a> Request<'a> {
    /// The socket a request names, if it names one.
    pub fn socket_id(&self) -> Option<u64> {
        match self {
            Request::Hello { .. }
            | Request::Socket { .. }
            | Request::Attach { .. }
            | Request::Stat { .. }
            | Request::Capture
            | Request::Settle
            | Request::Serves { .. }
            | Request::Poll { .. } => None,
            Request::Closed { id, .. }
            | Request::ClosedPost { id }
            | Request::SetsockoptPost { id, .. }
            | Request::Bind { id, .. }
            | Request::Listen { id, .. }
            | Request::Accept { id, .. }
            | Request::Connect { id, .. }
            | Request::ConnectPost { id, .. }
            | Request::ConnectStatus { id, .. }
            | Request::Send { id, .. }
            | Request::Post { id, .. }
            | Request::RxMore { id }
            | Request::Recv { id, .. }
            | Request::Shutdown { id, .. }
            | Request::Getsockname { id }
            | Request::Getpeername { id }
            | Request::Setsockopt { id, .. }
            | Request::Getsockopt { id, .. }
            | Request::AcceptHead { id }
            | Request::SetNonblock { id, .. }
            | Request::Reserved { id, .. }
            | Request::Reservation { id, .. }
            | Request::Moved { id }
            | Request::Sockinfo { id } => Some(*id),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Request::Hello { version } => w.u16(1).u32(*version),
            Request::Socket {
                domain,
                ty,
                protocol,
                spares,
            } => w
                .u16(2)
                .u8(domain_code(*domain))
                .u8(ty_code(*ty))
                .i32(*protocol)
                .u8(*spares),
            Request::Attach { count } => w.u16(3).u16(*count),
            Request::Closed { id, last } => w.u16(4).u64(*id).bool(*last),
            Request::Bind { id, addr } => w.u16(5).u64(*id).addr(Some(*addr)),
            Request::Listen { id, backlog } => w.u16(6).u64(*id).i32(*backlog),
            Request::Accept { id, wait } => w.u16(7).u64(*id).bool(*wait),
            Request::Connect { id, addr, wait } => {
                w.u16(if *wait { 51 } else { 8 }).u64(*id).addr(*addr)
            }
            Request::ClosedPost { id } => w.u16(52).u64(*id),
            Request::Settle => w.u16(54),
            Request::ConnectStatus { id, wait } => w.u16(9).u64(*id).bool(*wait),
            Request::Send {
                id,
                flags,
                to,
                wait,
                data,
            } => w
                .u16(10)
                .u64(*id)
                .i32(*flags)
                .addr(*to)
                .bool(*wait)
                .bytes(data),
            Request::Post { id, flags, data } => w.u16(40).u64(*id).i32(*flags).bytes(data),
            Request::RxMore { id } => w.u16(41).u64(*id),
            Request::Recv {
                id,
                flags,
                len,
                wait,
            } => w.u16(11).u64(*id).i32(*flags).u32(*len).bool(*wait),
            Request::Shutdown { id, how } => w.u16(12).u64(*id).i32(*how),
            Request::Getsockname { id } => w.u16(13).u64(*id),
            Request::Getpeername { id } => w.u16(14).u64(*id),
            Request::Setsockopt {
                id,
                level,
                name,
                val,
            } => w.u16(15).u64(*id).i32(*level).i32(*name).bytes(val),
            Request::SetsockoptPost {
                id,
                level,
                name,
                val,
            } => w.u16(53).u64(*id).i32(*level).i32(*name).bytes(val),
            Request::Getsockopt {
                id,
                level,
                name,
                len,
                val,
            } => w
                .u16(16)
                .u64(*id)
                .i32(*level)
                .i32(*name)
                .u32(*len)
                .bytes(val),
            Request::Sockinfo { id } => w.u16(17).u64(*id),
            Request::Poll { items, wait } => {
                w.u16(18).bool(*wait).u32(items.len() as u32);
                for (id, ev) in items {
                    w.u64(*id).u32(*ev);
                }
                &mut w
            }
            Request::Stat { skip } => w.u16(100).u32(*skip),
            Request::Capture => w.u16(101),
            Request::Serves { ty, addr } => w.u16(42).u8(ty_code(*ty)).addr(Some(*addr)),
            Request::AcceptHead { id } => w.u16(43).u64(*id),
            Request::SetNonblock { id, on } => w.u16(50).u64(*id).bool(*on),
            Request::ConnectPost { id, addr } => w.u16(55).u64(*id).addr(Some(*addr)),
            Request::Reserved { id, count } => w.u16(44).u64(*id).u16(*count),
            Request::Reservation { id, index } => w.u16(45).u64(*id).u8(*index),
            Request::Moved { id } => w.u16(46).u64(*id),
        };
        w.buf
    }

    /// Decode one request; every length and field is checked.
    pub fn decode(b: &'a [u8]) -> Result<Request<'a>, Malformed> {
        let mut r = Reader::new(b);
        let req = match r.u16()? {
            1 => Request::Hello { version: r.u32()? },
            2 => Request::Socket {
                domain: domain_from(r.u8()?)?,
                ty: ty_from(r.u8()?)?,
                protocol: r.i32()?,
                spares: r.u8()?,
            },
            3 => {
                let count = r.u16()?;
                if count as usize > MAX_ATTACH {
                    return Err(Malformed("too many anchors"));
                }
                Request::Attach { count }
            }
            4 => Request::Closed {
                id: r.u64()?,
                last: r.bool()?,
            },
            5 => Request::Bind {
                id: r.u64()?,
                addr: r.addr()?.ok_or(Malformed("bind without address"))?,
            },
            6 => Request::Listen {
                id: r.u64()?,
                backlog: r.i32()?,
            },
            7 => Request::Accept {
                id: r.u64()?,
                wait: r.bool()?,
            },
            op @ (8 | 51) => Request::Connect {
                id: r.u64()?,
                addr: r.addr()?,
                wait: op == 51,
            },
            52 => Request::ClosedPost { id: r.u64()? },
            54 => Request::Settle,
            9 => Request::ConnectStatus {
                id: r.u64()?,
                wait: r.bool()?,
            },
            10 => Request::Send {
                id: r.u64()?,
                flags: r.i32()?,
                to: r.addr()?,
                wait: r.bool()?,
                data: r.bytes(MAX_DATA)?,
            },
            41 => Request::RxMore { id: r.u64()? },
            40 => Request::Post {
                id: r.u64()?,
                flags: r.i32()?,
                data: r.bytes(MAX_DATA)?,
            },
            11 => {
                let (id, flags, len, wait) = (r.u64()?, r.i32()?, r.u32()?, r.bool()?);
                if len as usize > MAX_DATA {
                    return Err(Malformed("receive too long"));
                }
                Request::Recv {
                    id,
                    flags,
                    len,
                    wait,
                }
            }
            12 => Request::Shutdown {
                id: r.u64()?,
                how: r.i32()?,
            },
            13 => Request::Getsockname { id: r.u64()? },
            14 => Request::Getpeername { id: r.u64()? },
            15 => Request::Setsockopt {
                id: r.u64()?,
                level: r.i32()?,
                name: r.i32()?,
                val: r.bytes(MAX_OPT)?,
            },
            53 => Request::SetsockoptPost {
                id: r.u64()?,
                level: r.i32()?,
                name: r.i32()?,
                val: r.bytes(MAX_OPT)?,
            },
            16 => {
                let (id, level, name, len) = (r.u64()?, r.i32()?, r.i32()?, r.u32()?);
                let val = r.bytes(MAX_OPT)?;
                if len as usize > MAX_OPT || val.len() > len as usize {
                    return Err(Malformed("option too long"));
                }
                Request::Getsockopt {
                    id,
                    level,
                    name,
                    len,
                    val,
                }
            }
            17 => Request::Sockinfo { id: r.u64()? },
            18 => {
                let wait = r.bool()?;
                let n = r.u32()? as usize;
                if n > MAX_POLL {
                    return Err(Malformed("too many poll items"));
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push((r.u64()?, r.u32()?));
                }
                Request::Poll { items, wait }
            }
            100 => Request::Stat { skip: r.u32()? },
            101 => Request::Capture,
            42 => Request::Serves {
                ty: ty_from(r.u8()?)?,
                addr: r.addr()?.ok_or(Malformed("serves without address"))?,
            },
            43 => Request::AcceptHead { id: r.u64()? },
            50 => Request::SetNonblock {
                id: r.u64()?,
                on: r.bool()?,
            },
            55 => Request::ConnectPost {
                id: r.u64()?,
                addr: r.addr()?.ok_or(Malformed("connect without an address"))?,
            },
            44 => Request::Reserved {
                id: r.u64()?,
                count: r.u16()?,
            },
            45 => Request::Reservation {
                id: r.u64()?,
                index: r.u8()?,
            },
            46 => Request::Moved { id: r.u64()? },
            _ => return Err(Malformed("unknown request")),
        };
        r.end()?;
        Ok(req)
    }
}

/// Encode a reply.
/// A datagram's arrival (`DgramInfo`): a presence byte, then its fields
/// (spec_dst as an address with port 0).
fn put_info<'w>(w: &'w mut Writer, info: &Option<DgramInfo>) -> &'w mut Writer {
    match info {
        None => w.bool(false),
        Some(i) => w
            .bool(true)
            .addr(Some(i.dst))
            .u32(i.ifindex)
            .addr(Some(SocketAddr::new(i.spec_dst, 0)))
            .u8(i.tos)
            .u8(i.ttl)
            .u64(i.stamp.total_micros())
            .u16(i.gso_size)
            .u16(i.want),
    }
}

fn get_info(r: &mut Reader<'_>) -> Result<Option<DgramInfo>, Malformed> {
    if !r.bool()? {
        return Ok(None);
    }
    let missing = || Malformed("missing address");
    Ok(Some(DgramInfo {
        dst: r.addr()?.ok_or_else(missing)?,
        ifindex: r.u32()?,
        spec_dst: r.addr()?.ok_or_else(missing)?.ip(),
        tos: r.u8()?,
        ttl: r.u8()?,
        stamp: stack::Instant::from_micros(r.u64()?),
        gso_size: r.u16()?,
        want: r.u16()?,
    }))
}

pub fn encode_reply(rep: &Reply<'_>) -> Vec<u8> {
    let mut w = Writer::default();
    let body = match rep {
        Err(e) => {
            w.i32(e.0);
            return w.buf;
        }
        Ok(b) => b,
    };
    w.i32(0);
    match body {
        Body::None => w.u8(0),
        Body::Socket { id } => w.u8(1).u64(*id),
        Body::Spares {
            id,
            spares,
            fresh_us,
        } => {
            w.u8(11).u64(*id).u8(spares.len() as u8);
            for s in spares {
                w.u64(*s);
            }
            w.u64(*fresh_us)
        }
        Body::Accepted { id, peer } => w.u8(2).u64(*id).addr(Some(*peer)),
        Body::Ids(ids) => {
            w.u8(3).u32(ids.len() as u32);
            for id in ids {
                w.u64(*id);
            }
            &mut w
        }
        Body::Count(n) => w.u8(4).u64(*n),
        Body::Recv {
            full_len,
            from,
            data,
            info,
        } => put_info(w.u8(5).u64(*full_len).addr(*from).bytes(data), info),
        Body::Addr(a) => w.u8(6).addr(Some(*a)),
        Body::Bool(v) => w.u8(7).bool(*v),
        Body::Opt { len, data } => w.u8(8).u64(*len).bytes(data),
        Body::Info(i) => w
            .u8(9)
            .u64(i.rcv_cc as u64)
            .u64(i.snd_cc as u64)
            .u64(i.snd_unsent as u64)
            .u8(i.tcp_state)
            .bool(i.listening)
            .u64(i.inq_hint.map_or(u64::MAX, |v| v as u64))
            .u64(i.snd_space as u64)
            .u64(i.inq as u64),
        Body::Ready(v) => {
            w.u8(10).u32(v.len() as u32);
            for r in v {
                w.u32(*r);
            }
            &mut w
        }
        Body::Text(t) => w.u8(100).bytes(t),
    };
    w.buf
}

/// Decode a reply (in the client: a reply that does not decode means the
/// service is not one we can talk to).
pub fn decode_reply(b: &[u8]) -> Result<Reply<'_>, Malformed> {
    let mut r = Reader::new(b);
    let e = r.i32()?;
    if e != 0 {
        r.end()?;
        return Ok(Err(Errno(e)));
    }
    let body = match r.u8()? {
        0 => Body::None,
        1 => Body::Socket { id: r.u64()? },
        11 => {
            let id = r.u64()?;
            let n = r.u8()? as usize;
            if n > MAX_SPARES {
                return Err(Malformed("too many spares"));
            }
            let mut spares = Vec::with_capacity(n);
            for _ in 0..n {
                spares.push(r.u64()?);
            }
            Body::Spares {
                id,
                spares,
                fresh_us: r.u64()?,
            }
        }
        2 => Body::Accepted {
            id: r.u64()?,
            peer: r.addr()?.ok_or(Malformed("accept without peer"))?,
        },
        3 => {
            let n = r.u32()? as usize;
            if n > MAX_ATTACH {
                return Err(Malformed("too many ids"));
            }
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(r.u64()?);
            }
            Body::Ids(v)
        }
        4 => Body::Count(r.u64()?),
        5 => Body::Recv {
            full_len: r.u64()?,
            from: r.addr()?,
            data: r.bytes(MAX_DATA)?,
            info: get_info(&mut r)?,
        },
        6 => Body::Addr(r.addr()?.ok_or(Malformed("missing address"))?),
        7 => Body::Bool(r.bool()?),
        8 => Body::Opt {
            len: r.u64()?,
            data: r.bytes(MAX_OPT)?,
        },
        9 => Body::Info(SockInfo {
            rcv_cc: r.u64()? as usize,
            snd_cc: r.u64()? as usize,
            snd_unsent: r.u64()? as usize,
            tcp_state: r.u8()?,
            listening: r.bool()?,
            inq_hint: Some(r.u64()?)
                .filter(|v| *v != u64::MAX)
                .map(|v| v as usize),
            snd_space: r.u64()? as usize,
            inq: r.u64()? as usize,
        }),
        10 => {
            let n = r.u32()? as usize;
            if n > MAX_POLL {
                return Err(Malformed("too many readiness values"));
            }
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(r.u32()?);
            }
            Body::Ready(v)
        }
        100 => Body::Text(r.bytes(MAX_DATA)?),
        _ => return Err(Malformed("unknown reply")),
    };
    r.end()?;
    Ok(Ok(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn samples() -> Vec<Request<'static>> {
        let a = SocketAddr::new(Ipv4Addr::new(10, 7, 0, 1).into(), 80);
        let a6: SocketAddr = "[fd00:7::1%3]:443".parse().unwrap();
        vec![
            Request::Hello { version: 1 },
            Request::Socket {
                domain: Domain::Inet6,
                ty: SockType::Dgram,
                protocol: 17,
                spares: 4,
            },
            Request::Attach { count: 3 },
            Request::Closed { id: 9, last: true },
            Request::Closed { id: 9, last: false },
            Request::Bind { id: 1, addr: a },
            Request::Bind { id: 1, addr: a6 },
            Request::Connect {
                id: 2,
                addr: Some(a6),
                wait: false,
            },
            Request::Listen { id: 1, backlog: -1 },
            Request::Accept { id: 1, wait: true },
            Request::Connect {
                id: 2,
                addr: None,
                wait: false,
            },
            Request::Connect {
                id: 2,
                addr: Some(a),
                wait: true,
            },
            Request::ClosedPost { id: 9 },
            Request::Settle,
            Request::SetsockoptPost {
                id: 3,
                level: 6,
                name: 1,
                val: &[1, 0, 0, 0],
            },
            Request::ConnectStatus { id: 2, wait: false },
            Request::Post {
                id: 3,
                flags: 0x4000,
                data: b"posted",
            },
            Request::RxMore { id: 3 },
            Request::Send {
                id: 3,
                flags: 0x4000,
                to: Some(a),
                wait: true,
                data: b"hello",
            },
            Request::Recv {
                id: 3,
                flags: 2,
                len: 100,
                wait: false,
            },
            Request::Shutdown { id: 3, how: 1 },
            Request::Getsockname { id: 3 },
            Request::Getpeername { id: 3 },
            Request::Setsockopt {
                id: 3,
                level: 1,
                name: 2,
                val: &[1, 0, 0, 0],
            },
            Request::Getsockopt {
                id: 3,
                level: 6,
                name: 11,
                len: 4,
                val: &[],
            },
            Request::Getsockopt {
                id: 3,
                level: 0,
                name: 41,
                len: 24,
                val: &[239, 1, 2, 3, 127, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0],
            },
            Request::Sockinfo { id: 3 },
            Request::Poll {
                items: vec![(1, 1), (2, 4)],
                wait: true,
            },
            Request::Stat { skip: 300 },
            Request::Capture,
            Request::Serves {
                ty: SockType::Dgram,
                addr: SocketAddr::from(([127, 0, 0, 1], 53)),
            },
            Request::AcceptHead { id: 3 },
            Request::SetNonblock { id: 3, on: true },
            Request::ConnectPost { id: 2, addr: a },
            Request::ConnectPost { id: 2, addr: a6 },
            Request::Reserved { id: 4, count: 2 },
            Request::Reservation { id: 4, index: 1 },
            Request::Moved { id: 5 },
        ]
    }

    #[test]
    fn every_request_round_trips_and_every_truncation_is_malformed() {
        for req in samples() {
            let b = req.encode();
            assert_eq!(Request::decode(&b), Ok(req.clone()));
            for n in 0..b.len() {
                assert!(Request::decode(&b[..n]).is_err(), "{req:?} cut at {n}");
            }
            let mut long = b.clone();
            long.push(0);
            assert!(Request::decode(&long).is_err(), "trailing byte: {req:?}");
        }
    }

    #[test]
    fn replies_round_trip() {
        let a = SocketAddr::new(Ipv4Addr::new(10, 7, 0, 1).into(), 80);
        let a6: SocketAddr = "[fd00:7::1%3]:443".parse().unwrap();
        let info = SockInfo {
            rcv_cc: 5,
            snd_cc: 6,
            snd_unsent: 1,
            tcp_state: 1,
            listening: false,
            inq_hint: Some(3),
            snd_space: 4096,
            inq: 4,
        };
        for rep in [
            Err(Errno::EAGAIN),
            Ok(Body::None),
            Ok(Body::Socket { id: 7 }),
            Ok(Body::Spares {
                id: 7,
                spares: vec![8, 9, 1 << 40],
                fresh_us: 9_500,
            }),
            Ok(Body::Accepted { id: 8, peer: a }),
            Ok(Body::Accepted { id: 8, peer: a6 }),
            Ok(Body::Addr(a6)),
            Ok(Body::Ids(vec![1, 0, 3])),
            Ok(Body::Count(12)),
            Ok(Body::Recv {
                full_len: 9,
                from: Some(a),
                data: b"abc",
                info: None,
            }),
            Ok(Body::Recv {
                full_len: 1,
                from: Some(a),
                data: b"d",
                info: Some(stack::DgramInfo {
                    dst: a,
                    ifindex: 3,
                    spec_dst: a.ip(),
                    tos: 4,
                    ttl: 63,
                    stamp: stack::Instant::from_micros(12345),
                    gso_size: 1200,
                    want: 5,
                }),
            }),
            Ok(Body::Addr(a)),
            Ok(Body::Bool(true)),
            Ok(Body::Opt {
                len: 4,
                data: &[1, 2, 3, 4],
            }),
            Ok(Body::Info(info)),
            Ok(Body::Ready(vec![1, 4, 0x2011])),
            Ok(Body::Text(b"sock id=1\n")),
        ] {
            let b = encode_reply(&rep);
            assert_eq!(decode_reply(&b), Ok(rep.clone()));
            for n in 0..b.len() {
                assert!(decode_reply(&b[..n]).is_err(), "{rep:?} cut at {n}");
            }
        }
    }

    #[test]
    fn oversized_lengths_are_malformed_not_allocated() {
        // A Poll claiming 2^32-1 items in a short message.
        let mut w = Writer::default();
        w.u16(18).bool(false).u32(u32::MAX);
        assert!(Request::decode(&w.buf).is_err());
        let mut w = Writer::default();
        w.u16(11).u64(1).i32(0).u32(u32::MAX).bool(false);
        assert!(Request::decode(&w.buf).is_err());
    }

    proptest! {
        // 4000 cases in CI; scripts/fuzz sets PROPTEST_CASES for a long run.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4000)
        ))]

        /// The service's parser: any bytes decode or fail, never panic.
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Request::decode(&b);
            let _ = decode_reply(&b);
        }

        /// Garbage that starts with a valid opcode reaches the field checks.
        #[test]
        fn garbage_after_a_valid_opcode_never_panics(
            op in 0u16..20,
            tail in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut b = op.to_ne_bytes().to_vec();
            b.extend_from_slice(&tail);
            if let Ok(req) = Request::decode(&b) {
                // What decodes re-encodes to the same bytes.
                prop_assert_eq!(req.encode(), b);
            }
        }
    }
}
