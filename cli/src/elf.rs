//! Just enough of an ELF reader to tell whether the shim can serve a program:
//! the file header, the program headers (PT_INTERP, PT_DYNAMIC, PT_NOTE) and
//! the section names (`.go.buildinfo`, `.note.go.buildid`). Both classes
//! (ELF32, ELF64) and both byte orders. Every offset is checked against the
//! file's length: a malformed file is an `Err`, never a panic.

use std::fmt;

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
/// The type of the note Go's linker writes with owner "Go" (the build ID).
const NT_GO_BUILDID: u32 = 4;

/// What the launcher needs to know about an executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// The requested program interpreter (PT_INTERP), e.g. /lib64/ld-linux-x86-64.so.2.
    pub interp: Option<String>,
    /// A PT_DYNAMIC segment is present.
    pub dynamic: bool,
    /// Built by the Go toolchain (its build-id note or `.go.buildinfo` section).
    pub go: bool,
    /// ELF64 (true) or ELF32.
    pub wide: bool,
    /// e_machine (62 = x86-64, 3 = i386, 183 = AArch64, ...).
    pub machine: u16,
}

impl ElfInfo {
    /// Without a program interpreter the dynamic loader never runs, so
    /// LD_PRELOAD is never read (static and static-pie binaries alike).
    pub fn is_static(&self) -> bool {
        self.interp.is_none()
    }

    /// Linked against musl (its loader is ld-musl-*): a glibc-built library
    /// cannot be preloaded into it.
    pub fn is_musl(&self) -> bool {
        self.interp
            .as_deref()
            .is_some_and(|i| i.contains("ld-musl"))
    }

    /// "64-bit x86-64", "32-bit i386", ... for messages.
    pub fn arch(&self) -> String {
        let m = match self.machine {
            3 => "i386".to_string(),
            40 => "ARM".to_string(),
            62 => "x86-64".to_string(),
            183 => "AArch64".to_string(),
            243 => "RISC-V".to_string(),
            m => format!("machine {m}"),
        };
        format!("{}-bit {m}", if self.wide { 64 } else { 32 })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    Truncated(&'static str),
    Bad(&'static str),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF file"),
            ElfError::Truncated(what) => write!(f, "truncated ELF file ({what})"),
            ElfError::Bad(what) => write!(f, "malformed ELF file ({what})"),
        }
    }
}

/// A bounds-checked reader over the file's bytes in its class and byte order.
struct Reader<'a> {
    b: &'a [u8],
    wide: bool,
    le: bool,
}

impl Reader<'_> {
    fn bytes(&self, off: u64, len: u64, what: &'static str) -> Result<&[u8], ElfError> {
        let end = off.checked_add(len).ok_or(ElfError::Bad(what))?;
        if end > self.b.len() as u64 {
            return Err(ElfError::Truncated(what));
        }
        Ok(&self.b[off as usize..end as usize])
    }
    fn u16(&self, off: u64, what: &'static str) -> Result<u16, ElfError> {
        let s: [u8; 2] = self.bytes(off, 2, what)?.try_into().expect("2 bytes");
        Ok(if self.le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    }
    fn u32(&self, off: u64, what: &'static str) -> Result<u32, ElfError> {
        let s: [u8; 4] = self.bytes(off, 4, what)?.try_into().expect("4 bytes");
        Ok(if self.le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    }
    fn u64(&self, off: u64, what: &'static str) -> Result<u64, ElfError> {
        let s: [u8; 8] = self.bytes(off, 8, what)?.try_into().expect("8 bytes");
        Ok(if self.le {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    }
    /// An address/offset-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, off: u64, what: &'static str) -> Result<u64, ElfError> {
        if self.wide {
            self.u64(off, what)
        } else {
            self.u32(off, what).map(u64::from)
        }
    }
}

/// A segment or section: where its bytes are in the file.
struct Extent {
    offset: u64,
    size: u64,
}

/// Parse the file's bytes.
pub fn parse(b: &[u8]) -> Result<ElfInfo, ElfError> {
    if b.len() < 16 || &b[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    let wide = match b[4] {
        1 => false,
        2 => true,
        _ => return Err(ElfError::Bad("EI_CLASS")),
    };
    let le = match b[5] {
        1 => true,
        2 => false,
        _ => return Err(ElfError::Bad("EI_DATA")),
    };
    let r = Reader { b, wide, le };
    // Field offsets in the file header (ELF64 / ELF32).
    let (phoff, shoff) = if wide { (0x20, 0x28) } else { (0x1c, 0x20) };
    let (phentsize, phnum, shentsize, shnum, shstrndx) = if wide {
        (0x36, 0x38, 0x3a, 0x3c, 0x3e)
    } else {
        (0x2a, 0x2c, 0x2e, 0x30, 0x32)
    };
    let phoff = r.word(phoff, "e_phoff")?;
    let shoff = r.word(shoff, "e_shoff")?;
    let phentsize = u64::from(r.u16(phentsize, "e_phentsize")?);
    let phnum = u64::from(r.u16(phnum, "e_phnum")?);
    let shentsize = u64::from(r.u16(shentsize, "e_shentsize")?);
    let shnum = u64::from(r.u16(shnum, "e_shnum")?);
    let shstrndx = u64::from(r.u16(shstrndx, "e_shstrndx")?);

    let mut info = ElfInfo {
        interp: None,
        dynamic: false,
        go: false,
        wide,
        machine: r.u16(0x12, "e_machine")?,
    };
    if phnum > 0 && phentsize < if wide { 56 } else { 32 } {
        return Err(ElfError::Bad("e_phentsize"));
    }
    r.bytes(phoff, phnum * phentsize, "program headers")?;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = r.u32(ph, "program header")?;
        let seg = if wide {
            Extent {
                offset: r.u64(ph + 8, "p_offset")?,
                size: r.u64(ph + 32, "p_filesz")?,
            }
        } else {
            Extent {
                offset: u64::from(r.u32(ph + 4, "p_offset")?),
                size: u64::from(r.u32(ph + 16, "p_filesz")?),
            }
        };
        match p_type {
            PT_INTERP => {
                let s = r.bytes(seg.offset, seg.size, "PT_INTERP")?;
                let s = s.split(|&c| c == 0).next().unwrap_or_default();
                info.interp = Some(String::from_utf8_lossy(s).into_owned());
            }
            PT_DYNAMIC => info.dynamic = true,
            PT_NOTE if has_go_note(&r, &seg)? => info.go = true,
            _ => {}
        }
    }

    // Section names: stripped binaries may have none, which is fine.
    if shnum > 0 && shoff > 0 {
        if shentsize < if wide { 64 } else { 40 } {
            return Err(ElfError::Bad("e_shentsize"));
        }
        if shstrndx >= shnum {
            return Err(ElfError::Bad("e_shstrndx"));
        }
        r.bytes(shoff, shnum * shentsize, "section headers")?;
        let sh = |i: u64| shoff + i * shentsize;
        let (off_at, size_at) = if wide { (0x18, 0x20) } else { (0x10, 0x14) };
        let strtab = Extent {
            offset: r.word(sh(shstrndx) + off_at, "sh_offset")?,
            size: r.word(sh(shstrndx) + size_at, "sh_size")?,
        };
        let names = r.bytes(strtab.offset, strtab.size, ".shstrtab")?;
        for i in 0..shnum {
            let name_off = u64::from(r.u32(sh(i), "sh_name")?);
            let name = names
                .get(name_off as usize..)
                .and_then(|s| s.split(|&c| c == 0).next())
                .ok_or(ElfError::Bad("sh_name"))?;
            if name == b".go.buildinfo" || name == b".note.go.buildid" {
                info.go = true;
            }
        }
    }
    Ok(info)
}

/// Walk the notes of a PT_NOTE segment looking for owner "Go", type 4.
fn has_go_note(r: &Reader<'_>, seg: &Extent) -> Result<bool, ElfError> {
    let notes = r.bytes(seg.offset, seg.size, "PT_NOTE")?;
    let nr = Reader {
        b: notes,
        wide: r.wide,
        le: r.le,
    };
    let align4 = |n: u64| n.div_ceil(4) * 4;
    let mut at = 0u64;
    while at + 12 <= notes.len() as u64 {
        let namesz = u64::from(nr.u32(at, "n_namesz")?);
        let descsz = u64::from(nr.u32(at + 4, "n_descsz")?);
        let ty = nr.u32(at + 8, "n_type")?;
        let name = nr.bytes(at + 12, namesz, "note name")?;
        if ty == NT_GO_BUILDID && name.split(|&c| c == 0).next() == Some(b"Go") {
            return Ok(true);
        }
        at = at + 12 + align4(namesz) + align4(descsz);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A builder for small synthetic ELF files: program headers of the given
    /// types with their payloads, and sections with the given names.
    struct Fake {
        wide: bool,
        le: bool,
        segs: Vec<(u32, Vec<u8>)>,
        sections: Vec<&'static str>,
        machine: u16,
    }

    impl Fake {
        fn new(wide: bool, le: bool) -> Fake {
            Fake {
                wide,
                le,
                segs: vec![],
                sections: vec![],
                machine: 62,
            }
        }
        fn machine(mut self, m: u16) -> Fake {
            self.machine = m;
            self
        }
        fn seg(mut self, ty: u32, payload: &[u8]) -> Fake {
            self.segs.push((ty, payload.to_vec()));
            self
        }
        fn section(mut self, name: &'static str) -> Fake {
            self.sections.push(name);
            self
        }
        fn put(&self, out: &mut Vec<u8>, at: usize, v: u64, n: usize) {
            let bytes = if self.le {
                v.to_le_bytes()[..n].to_vec()
            } else {
                v.to_be_bytes()[8 - n..].to_vec()
            };
            if out.len() < at + n {
                out.resize(at + n, 0);
            }
            out[at..at + n].copy_from_slice(&bytes);
        }
        fn build(&self) -> Vec<u8> {
            let w = if self.wide { 8 } else { 4 };
            let (ehsize, phsz, shsz) = if self.wide {
                (64, 56, 64)
            } else {
                (52, 32, 40)
            };
            let mut b = vec![0u8; ehsize];
            b[..4].copy_from_slice(b"\x7fELF");
            b[4] = if self.wide { 2 } else { 1 };
            b[5] = if self.le { 1 } else { 2 };
            b[6] = 1;
            let phoff = ehsize;
            let data0 = phoff + phsz * self.segs.len();
            // Payloads after the program headers.
            let mut at = data0;
            let mut offs = vec![];
            for (_, p) in &self.segs {
                offs.push(at);
                at += p.len();
            }
            // .shstrtab: "\0" + names + ".shstrtab\0".
            let mut strtab = vec![0u8];
            let mut name_offs = vec![0usize]; // the null section
            for n in &self.sections {
                name_offs.push(strtab.len());
                strtab.extend_from_slice(n.as_bytes());
                strtab.push(0);
            }
            name_offs.push(strtab.len());
            strtab.extend_from_slice(b".shstrtab\0");
            let strtab_off = at;
            at += strtab.len();
            let shoff = at;
            let shnum = self.sections.len() + 2;
            b.resize(shoff + shnum * shsz, 0);
            let f =
                |wide_off: usize, narrow_off: usize| if self.wide { wide_off } else { narrow_off };
            self.put(&mut b, f(0x10, 0x10), 2, 2); // ET_EXEC
            self.put(&mut b, 0x12, u64::from(self.machine), 2);
            self.put(&mut b, f(0x20, 0x1c), phoff as u64, w);
            self.put(&mut b, f(0x28, 0x20), shoff as u64, w);
            self.put(&mut b, f(0x36, 0x2a), phsz as u64, 2);
            self.put(&mut b, f(0x38, 0x2c), self.segs.len() as u64, 2);
            self.put(&mut b, f(0x3a, 0x2e), shsz as u64, 2);
            self.put(&mut b, f(0x3c, 0x30), shnum as u64, 2);
            self.put(&mut b, f(0x3e, 0x32), (shnum - 1) as u64, 2);
            for (i, (ty, p)) in self.segs.iter().enumerate() {
                let ph = phoff + i * phsz;
                self.put(&mut b, ph, u64::from(*ty), 4);
                if self.wide {
                    self.put(&mut b, ph + 8, offs[i] as u64, 8);
                    self.put(&mut b, ph + 32, p.len() as u64, 8);
                } else {
                    self.put(&mut b, ph + 4, offs[i] as u64, 4);
                    self.put(&mut b, ph + 16, p.len() as u64, 4);
                }
                b[offs[i]..offs[i] + p.len()].copy_from_slice(p);
            }
            b[strtab_off..strtab_off + strtab.len()].copy_from_slice(&strtab);
            for (i, name_off) in name_offs.iter().enumerate() {
                let sh = shoff + i * shsz;
                self.put(&mut b, sh, *name_off as u64, 4);
            }
            let last = shoff + (shnum - 1) * shsz;
            self.put(&mut b, last + f(0x18, 0x10), strtab_off as u64, w);
            self.put(&mut b, last + f(0x20, 0x14), strtab.len() as u64, w);
            b
        }
    }

    fn note(owner: &[u8], ty: u32, desc: &[u8], le: bool) -> Vec<u8> {
        let enc = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut n = vec![];
        n.extend_from_slice(&enc(owner.len() as u32 + 1));
        n.extend_from_slice(&enc(desc.len() as u32));
        n.extend_from_slice(&enc(ty));
        n.extend_from_slice(owner);
        n.push(0);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n.extend_from_slice(desc);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n
    }

    const LD: &[u8] = b"/lib64/ld-linux-x86-64.so.2\0";

    #[test]
    fn dynamic_executable_in_every_class_and_order() {
        for (wide, le) in [(true, true), (true, false), (false, true), (false, false)] {
            let b = Fake::new(wide, le)
                .seg(PT_INTERP, LD)
                .seg(PT_DYNAMIC, &[0; 16])
                .section(".text")
                .build();
            let i = parse(&b).unwrap_or_else(|e| panic!("wide={wide} le={le}: {e}"));
            assert_eq!(i.interp.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
            assert!(
                i.dynamic && !i.is_static() && !i.go,
                "wide={wide} le={le}: {i:?}"
            );
        }
    }

    #[test]
    fn class_machine_and_musl() {
        let i = parse(
            &Fake::new(false, true)
                .machine(3)
                .seg(PT_INTERP, b"/lib/ld-linux.so.2\0")
                .build(),
        )
        .unwrap();
        assert_eq!(
            (i.wide, i.machine, i.arch().as_str()),
            (false, 3, "32-bit i386")
        );
        assert!(!i.is_musl());
        let m = parse(
            &Fake::new(true, true)
                .seg(PT_INTERP, b"/lib/ld-musl-x86_64.so.1\0")
                .build(),
        )
        .unwrap();
        assert!(m.is_musl() && !m.is_static());
        assert_eq!(m.arch(), "64-bit x86-64");
    }

    #[test]
    fn static_and_static_pie_have_no_interpreter() {
        let stat = parse(&Fake::new(true, true).seg(1, &[0; 8]).build()).unwrap();
        assert!(stat.is_static() && !stat.dynamic);
        // static-pie: PT_DYNAMIC for self-relocation but no PT_INTERP.
        let pie = parse(&Fake::new(true, true).seg(PT_DYNAMIC, &[0; 16]).build()).unwrap();
        assert!(pie.is_static() && pie.dynamic);
    }

    #[test]
    fn go_found_by_note_or_by_section() {
        let n = note(b"Go", NT_GO_BUILDID, b"abcdefgh", true);
        let gnu = note(b"GNU", 3, &[1; 20], true);
        let mut both = gnu.clone();
        both.extend_from_slice(&n);
        let by_note = Fake::new(true, true)
            .seg(PT_INTERP, LD)
            .seg(PT_NOTE, &both)
            .build();
        assert!(parse(&by_note).unwrap().go);
        let by_section = Fake::new(true, true).section(".go.buildinfo").build();
        assert!(parse(&by_section).unwrap().go);
        let by_note_section = Fake::new(false, false).section(".note.go.buildid").build();
        assert!(parse(&by_note_section).unwrap().go);
        // A GNU build-id note and ordinary sections are not Go.
        let c = Fake::new(true, true)
            .seg(PT_INTERP, LD)
            .seg(PT_NOTE, &gnu)
            .section(".note.gnu.build-id")
            .section(".gopclntab_not")
            .build();
        assert!(!parse(&c).unwrap().go);
        // Owner "Go" with another type is not the build-id note.
        let other = Fake::new(true, true)
            .seg(PT_NOTE, &note(b"Go", 1, b"x", true))
            .build();
        assert!(!parse(&other).unwrap().go);
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        assert_eq!(parse(b"#!/bin/sh\necho hi\n"), Err(ElfError::NotElf));
        assert_eq!(parse(b""), Err(ElfError::NotElf));
        let good = Fake::new(true, true)
            .seg(PT_INTERP, LD)
            .seg(PT_NOTE, &note(b"Go", 4, b"id", true))
            .section(".text")
            .build();
        assert!(parse(&good).is_ok());
        // Every truncation of a valid file is an error or a consistent parse.
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        // Every single-byte corruption, likewise.
        for i in 0..good.len() {
            for v in [0u8, 0x7f, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let _ = parse(&b);
            }
        }
        let mut bad_class = good.clone();
        bad_class[4] = 3;
        assert_eq!(parse(&bad_class), Err(ElfError::Bad("EI_CLASS")));
        let cut = &good[..good.len() - 1];
        assert!(matches!(parse(cut), Err(ElfError::Truncated(_))));
    }

    #[test]
    fn real_binaries_on_this_machine() {
        // The test runner itself is a dynamically linked Rust program.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let i = parse(&me).unwrap();
        assert!(!i.is_static() && i.dynamic && !i.go, "{i:?}");
        assert!(i.interp.unwrap().contains("ld-"));
        let sh = std::fs::read("/bin/sh").unwrap();
        assert!(!parse(&sh).unwrap().is_static());
    }
}
