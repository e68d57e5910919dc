//! Socket filters (Linux's sk_filter; FreeBSD has none on sockets): a
//! classic-BPF program attached with SO_ATTACH_FILTER, checked as Linux's
//! `bpf_check_classic` checks it before accepting it, and run on every
//! datagram or segment the socket takes. Its verdict is how many bytes of
//! the transport header and payload to keep: 0 drops the packet, less
//! than its length trims it (never below the transport header).

use crate::errno::Errno;

/// Linux's BPF_MAXINSNS.
pub const BPF_MAXINSNS: usize = 4096;
/// Scratch memory words (BPF_MEMWORDS).
const BPF_MEMWORDS: u32 = 16;

/// Special load offsets (linux/filter.h): ancillary data, then the
/// network and link-layer headers.
const SKF_AD_OFF: i32 = -0x1000;
const SKF_NET_OFF: i32 = -0x100000;
const SKF_LL_OFF: i32 = -0x200000;

const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_IFINDEX: u32 = 8;
const SKF_AD_NLATTR: u32 = 12;
const SKF_AD_NLATTR_NEST: u32 = 16;
const SKF_AD_MARK: u32 = 20;
const SKF_AD_QUEUE: u32 = 24;
const SKF_AD_HATYPE: u32 = 28;
const SKF_AD_RXHASH: u32 = 32;
const SKF_AD_CPU: u32 = 36;
const SKF_AD_ALU_XOR_X: u32 = 40;
const SKF_AD_VLAN_TAG: u32 = 44;
const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;
const SKF_AD_PAY_OFFSET: u32 = 52;
const SKF_AD_RANDOM: u32 = 56;
const SKF_AD_VLAN_TPID: u32 = 60;
const SKF_AD_MAX: u32 = 64;

// Instruction classes, sizes, modes, operations and sources.
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const MSH: u16 = 0xa0;
const ADD: u16 = 0x00;
const SUB: u16 = 0x10;
const MUL: u16 = 0x20;
const DIV: u16 = 0x30;
const OR: u16 = 0x40;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const RSH: u16 = 0x70;
const NEG: u16 = 0x80;
const MOD: u16 = 0x90;
const XOR: u16 = 0xa0;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
const K: u16 = 0x00;
const X: u16 = 0x08;
const RET_A: u16 = 0x10;
const TAX: u16 = 0x00;
const TXA: u16 = 0x80;

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// An attached filter: the program as the user gave it (SO_GET_FILTER
/// returns it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkFilter {
    insns: Vec<BpfInsn>,
}

/// What a filter sees of a packet besides its bytes.
pub struct FilterCx<'a> {
    /// The packet from its network header on.
    pub net: &'a [u8],
    /// Where the transport header starts in `net` (the filter's offset 0).
    pub transport: usize,
    /// Where the payload starts in `net` (SKF_AD_PAY_OFFSET).
    pub payload: usize,
    /// 0x0800 or 0x86dd.
    pub protocol: u16,
    /// PACKET_HOST (0), PACKET_BROADCAST (1), PACKET_MULTICAST (2).
    pub pkttype: u32,
    pub ifindex: u32,
    /// The device's ARPHRD_* type; loopback frames carry a zeroed
    /// 14-byte Ethernet header before `net` (Linux's lo does).
    pub loopback: bool,
}

/// ARPHRD_LOOPBACK and ARPHRD_NONE (a TUN device).
const ARPHRD_LOOPBACK: u32 = 772;
const ARPHRD_NONE: u32 = 0xfffe;

/// The flat size of one instruction in the user's array.
pub const INSN_SIZE: usize = 8;

/// Linux's `chk_code_allowed`: the classic opcodes a socket filter may use.
fn code_allowed(code: u16) -> bool {
    if code & 0x07 == ALU && code < 0x100 {
        // 32-bit ALU with K or X; NEG only bare.
        return code == ALU | NEG
            || matches!(
                code & 0xf0,
                ADD | SUB | MUL | DIV | OR | AND | LSH | RSH | MOD | XOR
            );
    }
    matches!(
        code,
        0x20 | 0x28 | 0x30 // LD W/H/B ABS
            | 0x40 | 0x48 | 0x50 // LD W/H/B IND
            | 0x80 // LD W LEN
            | 0x00 // LD IMM
            | 0x60 // LD MEM
            | 0x81 // LDX W LEN
            | 0xb1 // LDX B MSH
            | 0x01 // LDX IMM
            | 0x61 // LDX MEM
            | 0x02 | 0x03 // ST, STX
            | 0x07 | 0x87 // TAX, TXA
            | 0x06 | 0x16 // RET K, RET A
            | 0x05 // JA
            | 0x15 | 0x1d | 0x35 | 0x3d | 0x25 | 0x2d | 0x45 | 0x4d // JEQ JGE JGT JSET, K and X
    )
}

fn is_cond_jump(code: u16) -> bool {
    matches!(code, 0x15 | 0x1d | 0x35 | 0x3d | 0x25 | 0x2d | 0x45 | 0x4d)
}

/// A known ancillary load (`bpf_anc_helper`).
fn anc_known(k: u32) -> bool {
    let off = k.wrapping_sub(SKF_AD_OFF as u32);
    k >= SKF_AD_OFF as u32 && off < SKF_AD_MAX && off.is_multiple_of(4)
}

impl SkFilter {
    /// The user's `sock_filter` array (8 bytes each, host order), checked
    /// as `bpf_check_classic` and `check_load_and_stores` do: EINVAL for
    /// an empty or too long program, an opcode a socket filter may not
    /// use, a division by a constant 0, a shift of 32 or more, a scratch
    /// word past 15 or read before it is written on some path, a jump out
    /// of the program, an unknown ancillary load, or a last instruction
    /// that is not a return.
    pub fn new(bytes: &[u8]) -> Result<SkFilter, Errno> {
        if bytes.is_empty()
            || !bytes.len().is_multiple_of(INSN_SIZE)
            || bytes.len() / INSN_SIZE > BPF_MAXINSNS
        {
            return Err(Errno::EINVAL);
        }
        let insns: Vec<BpfInsn> = bytes
            .chunks_exact(INSN_SIZE)
            .map(|c| BpfInsn {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        check_classic(&insns)?;
        Ok(SkFilter { insns })
    }

    /// The program in the user's layout (SO_GET_FILTER).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.insns.len() * INSN_SIZE);
        for i in &self.insns {
            v.extend_from_slice(&i.code.to_ne_bytes());
            v.push(i.jt);
            v.push(i.jf);
            v.extend_from_slice(&i.k.to_ne_bytes());
        }
        v
    }

    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Run the program over the packet: the number of bytes from the
    /// transport header on to keep (0: drop). A load outside the packet,
    /// or a division by X = 0, ends the program with 0, as in Linux.
    pub fn run(&self, cx: &FilterCx) -> u32 {
        run(&self.insns, cx).unwrap_or(0)
    }

    /// Linux's `sk_filter_trim_cap`: None to drop the packet, else the
    /// length to keep of `len` bytes (not less than `cap`).
    pub fn verdict(&self, cx: &FilterCx, len: usize, cap: usize) -> Option<usize> {
        match self.run(cx) as usize {
            0 => None,
            n => Some(len.min(n.max(cap))),
        }
    }
}

fn check_classic(f: &[BpfInsn]) -> Result<(), Errno> {
    let flen = f.len();
    for (pc, i) in f.iter().enumerate() {
        if !code_allowed(i.code) {
            return Err(Errno::EINVAL);
        }
        let bad = match i.code {
            c if c == ALU | DIV | K || c == ALU | MOD | K => i.k == 0,
            c if c == ALU | LSH | K || c == ALU | RSH | K => i.k >= 32,
            c if c == LD | MEM || c == LDX | MEM || c == ST || c == STX => i.k >= BPF_MEMWORDS,
            c if c == JMP | JA => i.k as usize >= flen - pc - 1,
            c if is_cond_jump(c) => {
                pc + i.jt as usize + 1 >= flen || pc + i.jf as usize + 1 >= flen
            }
            c if c == LD | W | ABS || c == LD | H | ABS || c == LD | B | ABS => {
                !anc_known(i.k) && i.k >= SKF_AD_OFF as u32
            }
            _ => false,
        };
        if bad {
            return Err(Errno::EINVAL);
        }
    }
    match f[flen - 1].code {
        c if c == RET | K || c == RET | RET_A => check_load_and_stores(f),
        _ => Err(Errno::EINVAL),
    }
}

/// No scratch word is read before every path to the read has written it.
fn check_load_and_stores(f: &[BpfInsn]) -> Result<(), Errno> {
    let mut masks = vec![u16::MAX; f.len()];
    let mut valid: u16 = 0;
    for (pc, i) in f.iter().enumerate() {
        valid &= masks[pc];
        match i.code {
            c if c == ST || c == STX => valid |= 1 << i.k,
            c if (c == LD | MEM || c == LDX | MEM) && valid & (1 << i.k) == 0 => {
                return Err(Errno::EINVAL);
            }
            c if c == JMP | JA => {
                masks[pc + 1 + i.k as usize] &= valid;
                valid = u16::MAX;
            }
            c if is_cond_jump(c) => {
                masks[pc + 1 + i.jt as usize] &= valid;
                masks[pc + 1 + i.jf as usize] &= valid;
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

/// `size` bytes (1, 2 or 4, big-endian) at offset `k` as Linux's
/// `bpf_skb_load_helper_*` reads them: from the transport header for
/// k >= 0, from the network or link-layer header for the special
/// negative offsets. None outside the packet.
fn load(cx: &FilterCx, k: i32, size: usize) -> Option<u32> {
    let bytes: &[u8];
    let at: usize;
    if k >= 0 {
        bytes = cx.net.get(cx.transport..)?;
        at = k as usize;
    } else if k >= SKF_NET_OFF {
        bytes = cx.net;
        at = (k - SKF_NET_OFF) as usize;
    } else if k >= SKF_LL_OFF {
        let off = (k - SKF_LL_OFF) as usize;
        if cx.loopback {
            // The zeroed Ethernet header lo puts before the packet.
            let mut v = 0u32;
            for j in 0..size {
                let b = match off + j {
                    p if p < 12 => 0,
                    12 => (cx.protocol >> 8) as u8,
                    13 => cx.protocol as u8,
                    p => *cx.net.get(p - 14)?,
                };
                v = v << 8 | b as u32;
            }
            return Some(v);
        }
        bytes = cx.net;
        at = off;
    } else {
        return None;
    }
    let b = bytes.get(at..at.checked_add(size)?)?;
    Some(b.iter().fold(0u32, |v, &x| v << 8 | x as u32))
}

/// An ancillary load (`convert_bpf_extensions`); `a`, `x` the registers.
fn ancillary(cx: &FilterCx, off: u32, a: u32, x: u32) -> u32 {
    match off {
        SKF_AD_PROTOCOL => cx.protocol as u32,
        SKF_AD_PKTTYPE => cx.pkttype,
        SKF_AD_IFINDEX => cx.ifindex,
        SKF_AD_HATYPE => {
            if cx.loopback {
                ARPHRD_LOOPBACK
            } else {
                ARPHRD_NONE
            }
        }
        SKF_AD_ALU_XOR_X => a ^ x,
        SKF_AD_PAY_OFFSET => (cx.payload + if cx.loopback { 14 } else { 0 }) as u32,
        SKF_AD_RANDOM => {
            // Any value will do (Linux's prandom); keep runs repeatable.
            (cx.net.len() as u32).wrapping_mul(2_654_435_761)
        }
        // Netlink attributes, marks, queues, hashes, the CPU and VLANs:
        // none of these exist for our packets.
        SKF_AD_NLATTR
        | SKF_AD_NLATTR_NEST
        | SKF_AD_MARK
        | SKF_AD_QUEUE
        | SKF_AD_RXHASH
        | SKF_AD_CPU
        | SKF_AD_VLAN_TAG
        | SKF_AD_VLAN_TAG_PRESENT
        | SKF_AD_VLAN_TPID => 0,
        _ => 0,
    }
}

fn run(f: &[BpfInsn], cx: &FilterCx) -> Option<u32> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut m = [0u32; BPF_MEMWORDS as usize];
    let len = (cx.net.len() - cx.transport.min(cx.net.len())) as u32;
    let mut pc = 0usize;
    loop {
        let i = *f.get(pc)?;
        pc += 1;
        let size = match i.code & 0x18 {
            W => 4,
            H => 2,
            _ => 1,
        };
        match i.code & 0x07 {
            LD => match i.code & 0xe0 {
                ABS if anc_known(i.k) => {
                    a = ancillary(cx, i.k.wrapping_sub(SKF_AD_OFF as u32), a, x)
                }
                ABS => a = load(cx, i.k as i32, size)?,
                IND => a = load(cx, x.wrapping_add(i.k) as i32, size)?,
                LEN => a = len,
                MEM => a = m[i.k as usize],
                IMM => a = i.k,
                _ => return None,
            },
            LDX => match i.code & 0xe0 {
                LEN => x = len,
                MSH => x = (load(cx, i.k as i32, 1)? & 0xf) * 4,
                MEM => x = m[i.k as usize],
                IMM => x = i.k,
                _ => return None,
            },
            ST => m[i.k as usize] = a,
            STX => m[i.k as usize] = x,
            ALU => {
                let v = if i.code & X != 0 { x } else { i.k };
                a = match i.code & 0xf0 {
                    ADD => a.wrapping_add(v),
                    SUB => a.wrapping_sub(v),
                    MUL => a.wrapping_mul(v),
                    DIV => a.checked_div(v)?,
                    MOD => a.checked_rem(v)?,
                    OR => a | v,
                    AND => a & v,
                    XOR => a ^ v,
                    LSH => a.wrapping_shl(v & 31),
                    RSH => a.wrapping_shr(v & 31),
                    _ => a.wrapping_neg(), // NEG
                };
            }
            JMP => {
                let v = if i.code & X != 0 { x } else { i.k };
                let taken = match i.code & 0xf0 {
                    JA => {
                        pc += i.k as usize;
                        continue;
                    }
                    JEQ => a == v,
                    JGT => a > v,
                    JGE => a >= v,
                    JSET => a & v != 0,
                    _ => return None,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            RET => return Some(if i.code & RET_A != 0 { a } else { i.k }),
            MISC if i.code & 0xf8 == TXA => a = x,
            MISC if i.code & 0xf8 == TAX => x = a,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(insns: &[(u16, u8, u8, u32)]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(code, jt, jf, k) in insns {
            v.extend_from_slice(&code.to_ne_bytes());
            v.push(jt);
            v.push(jf);
            v.extend_from_slice(&k.to_ne_bytes());
        }
        v
    }

    fn udp_cx(net: &[u8]) -> FilterCx<'_> {
        FilterCx {
            net,
            transport: 20,
            payload: 28,
            protocol: 0x0800,
            pkttype: 0,
            ifindex: 1,
            loopback: true,
        }
    }

    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45u8; 20];
        p[9] = 17;
        p.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn the_checks_of_bpf_check_classic() {
        let ret0 = (RET | K, 0, 0, 0);
        assert!(SkFilter::new(&prog(&[ret0])).is_ok());
        assert_eq!(SkFilter::new(&[]), Err(Errno::EINVAL), "empty");
        assert_eq!(
            SkFilter::new(&prog(&vec![ret0; BPF_MAXINSNS + 1])),
            Err(Errno::EINVAL),
            "too long"
        );
        assert!(SkFilter::new(&prog(&vec![ret0; BPF_MAXINSNS])).is_ok());
        let bad = [
            vec![(0xff, 0, 0, 0), ret0],                        // unknown opcode
            vec![(LD | IMM, 0, 0, 1)],                          // no return at the end
            vec![(ALU | DIV | K, 0, 0, 0), ret0],               // divide by constant 0
            vec![(ALU | MOD | K, 0, 0, 0), ret0],               // modulo by constant 0
            vec![(ALU | LSH | K, 0, 0, 32), ret0],              // shift too far
            vec![(ST, 0, 0, 16), ret0],                         // scratch word 16
            vec![(JMP | JA, 0, 0, 1), ret0],                    // jump past the end
            vec![(JMP | JEQ | K, 1, 0, 0), ret0],               // conditional past the end
            vec![(LD | MEM, 0, 0, 3), ret0],                    // read before write
            vec![(LD | W | ABS, 0, 0, 0xffff_f000 + 64), ret0], // unknown ancillary
            // Written on one path only, then read.
            vec![
                (JMP | JEQ | K, 0, 1, 0),
                (ST, 0, 0, 2),
                (LD | MEM, 0, 0, 2),
                ret0,
            ],
        ];
        for p in bad {
            assert_eq!(SkFilter::new(&prog(&p)), Err(Errno::EINVAL), "{p:x?}");
        }
        // Written on both paths: accepted.
        let ok = [
            (ST, 0, 0, 2),
            (JMP | JEQ | K, 0, 1, 0),
            (LD | IMM, 0, 0, 1),
            (LD | MEM, 0, 0, 2),
            ret0,
        ];
        assert!(SkFilter::new(&prog(&ok)).is_ok());
        assert_eq!(
            SkFilter::new(&[0u8; 12]),
            Err(Errno::EINVAL),
            "not whole instructions"
        );
    }

    #[test]
    fn loads_jumps_and_verdicts() {
        // Keep 8 + 3 bytes of datagrams whose first payload byte is 'A'.
        let f = SkFilter::new(&prog(&[
            (LD | B | ABS, 0, 0, 8),
            (JMP | JEQ | K, 0, 1, b'A' as u32),
            (RET | K, 0, 0, 11),
            (RET | K, 0, 0, 0),
        ]))
        .unwrap();
        let a = packet(b"Abcdef");
        let b = packet(b"Bbcdef");
        assert_eq!(f.verdict(&udp_cx(&a), 14, 8), Some(11));
        assert_eq!(f.verdict(&udp_cx(&b), 14, 8), None);
        // 16-bit loads are big-endian; out of the packet ends with 0.
        let f = SkFilter::new(&prog(&[(LD | H | ABS, 0, 0, 0), (RET | RET_A, 0, 0, 0)])).unwrap();
        assert_eq!(f.run(&udp_cx(&a)), 0x1234);
        let f = SkFilter::new(&prog(&[(LD | W | ABS, 0, 0, 12), (RET | K, 0, 0, 1)])).unwrap();
        assert_eq!(f.run(&udp_cx(&a)), 0, "load past the end");
        // Network-header offsets, LDX MSH, IND, LEN, ancillary.
        let f = SkFilter::new(&prog(&[
            (LDX | B | MSH, 0, 0, SKF_NET_OFF as u32),
            (LD | B | IND, 0, 0, SKF_NET_OFF as u32 + 8),
            (RET | RET_A, 0, 0, 0),
        ]))
        .unwrap();
        assert_eq!(
            f.run(&udp_cx(&a)),
            b'A' as u32,
            "X = 20 from MSH: the first payload byte"
        );
        let f = SkFilter::new(&prog(&[(LD | W | LEN, 0, 0, 0), (RET | RET_A, 0, 0, 0)])).unwrap();
        assert_eq!(f.run(&udp_cx(&a)), 14);
        let anc = |off: u32| {
            SkFilter::new(&prog(&[
                (LD | W | ABS, 0, 0, (SKF_AD_OFF as u32).wrapping_add(off)),
                (RET | RET_A, 0, 0, 0),
            ]))
            .unwrap()
            .run(&udp_cx(&a))
        };
        assert_eq!(anc(SKF_AD_PROTOCOL), 0x0800);
        assert_eq!(anc(SKF_AD_IFINDEX), 1);
        assert_eq!(anc(SKF_AD_HATYPE), ARPHRD_LOOPBACK);
        assert_eq!(anc(SKF_AD_PAY_OFFSET), 14 + 28);
        // Link-layer offsets on loopback: the zeroed Ethernet header.
        let f = SkFilter::new(&prog(&[
            (LD | H | ABS, 0, 0, SKF_LL_OFF as u32 + 12),
            (RET | RET_A, 0, 0, 0),
        ]))
        .unwrap();
        assert_eq!(f.run(&udp_cx(&a)), 0x0800);
        // Division by X = 0 ends with 0; ALU and scratch memory.
        let f = SkFilter::new(&prog(&[
            (LD | IMM, 0, 0, 7),
            (ALU | DIV | X, 0, 0, 0),
            (RET | K, 0, 0, 9),
        ]))
        .unwrap();
        assert_eq!(f.run(&udp_cx(&a)), 0);
        let f = SkFilter::new(&prog(&[
            (LD | IMM, 0, 0, 6),
            (ST, 0, 0, 4),
            (LDX | IMM, 0, 0, 3),
            (ALU | MUL | X, 0, 0, 0),
            (MISC | TAX, 0, 0, 0),
            (LD | MEM, 0, 0, 4),
            (ALU | ADD | X, 0, 0, 0),
            (ALU | LSH | K, 0, 0, 1),
            (RET | RET_A, 0, 0, 0),
        ]))
        .unwrap();
        assert_eq!(f.run(&udp_cx(&a)), (6 * 3 + 6) << 1);
        // The verdict never cuts into the transport header.
        let f = SkFilter::new(&prog(&[(RET | K, 0, 0, 2)])).unwrap();
        assert_eq!(f.verdict(&udp_cx(&a), 14, 8), Some(8));
        let f = SkFilter::new(&prog(&[(RET | K, 0, 0, u32::MAX)])).unwrap();
        assert_eq!(f.verdict(&udp_cx(&a), 14, 8), Some(14));
        assert_eq!(f.to_bytes(), prog(&[(RET | K, 0, 0, u32::MAX)]));
    }
}
