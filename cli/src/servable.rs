//! Can the shim serve this program? The launcher's checks, each with the
//! reason it prints: a statically linked program never runs the dynamic
//! loader (LD_PRELOAD is never read), a setuid/setgid program that changes
//! ids runs in secure-execution mode (the loader drops LD_PRELOAD), and a Go
//! program makes its socket system calls itself instead of through libc.
//! Scripts are judged by their interpreter (`#!`, through `env` too).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::elf::{self, ElfInfo};

/// One reason the program may not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// True: the shim cannot work at all (refuse unless --force).
    /// False: it may work, but the user should know (warn).
    pub fatal: bool,
    pub why: String,
}

impl Finding {
    fn fatal(why: String) -> Finding {
        Finding { fatal: true, why }
    }
    fn warn(why: String) -> Finding {
        Finding { fatal: false, why }
    }
}

/// The ids a new program starts with: the real uid and gid of this process.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

impl Ids {
    /// Real uid/gid from /proc/self/status (first field of Uid:/Gid:).
    pub fn current() -> Ids {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(u32::MAX)
        };
        Ids {
            uid: field("Uid:"),
            gid: field("Gid:"),
        }
    }
}

/// Find CMD the way execvp does: as given if it has a '/', else on `path`.
pub fn which(cmd: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if cmd.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(cmd));
    }
    let path = path
        .map(OsString::from)
        .unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|p| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Check the program at `prog` (already resolved); `path` resolves a
/// script's `#!/usr/bin/env NAME` interpreter; `lib` is the library's own
/// ELF header, when known, to compare class and machine with.
pub fn check(prog: &Path, ids: Ids, path: Option<&OsStr>, lib: Option<&ElfInfo>) -> Vec<Finding> {
    check_depth(prog, ids, path, lib, 0)
}

/// The library's ELF header (class, machine), if it can be read.
pub fn lib_info(lib: &Path) -> Option<ElfInfo> {
    elf::parse(&std::fs::read(lib).ok()?).ok()
}

fn check_depth(
    prog: &Path,
    ids: Ids,
    path: Option<&OsStr>,
    lib: Option<&ElfInfo>,
    depth: u32,
) -> Vec<Finding> {
    let name = prog.display();
    let mut out = vec![];
    let meta = match prog.metadata() {
        Ok(m) => m,
        Err(e) => return vec![Finding::fatal(format!("{name}: {e}"))],
    };
    let mode = meta.permissions().mode();
    if mode & 0o4000 != 0 && meta.uid() != ids.uid {
        out.push(Finding::fatal(format!(
            "{name} is setuid (owner uid {}): the dynamic loader ignores LD_PRELOAD in \
             secure-execution mode, so it would run on kernel sockets",
            meta.uid()
        )));
    }
    if mode & 0o2000 != 0 && meta.gid() != ids.gid {
        out.push(Finding::fatal(format!(
            "{name} is setgid (group gid {}): the dynamic loader ignores LD_PRELOAD in \
             secure-execution mode, so it would run on kernel sockets",
            meta.gid()
        )));
    }
    let bytes = match std::fs::read(prog) {
        Ok(b) => b,
        Err(e) => {
            out.push(Finding::warn(format!(
                "{name}: cannot read it to check ({e})"
            )));
            return out;
        }
    };
    if let Some(rest) = bytes.strip_prefix(b"#!") {
        if depth >= 2 {
            out.push(Finding::warn(format!(
                "{name}: nested interpreters, not checked further"
            )));
            return out;
        }
        let line = rest.split(|&c| c == b'\n').next().unwrap_or_default();
        let mut words = line
            .split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .map(OsStr::from_bytes);
        let Some(interp) = words.next() else {
            out.push(Finding::warn(format!("{name}: empty #! line")));
            return out;
        };
        let mut interp = PathBuf::from(interp);
        if interp.file_name() == Some(OsStr::new("env")) {
            // #!/usr/bin/env [-S] NAME: the first word that is not an option.
            match words
                .find(|w| !w.as_bytes().starts_with(b"-"))
                .and_then(|w| which(w, path))
            {
                Some(p) => interp = p,
                None => {
                    out.push(Finding::warn(format!(
                        "{name}: cannot find the interpreter its #! line names"
                    )));
                    return out;
                }
            }
        }
        for f in check_depth(&interp, ids, path, lib, depth + 1) {
            out.push(Finding {
                fatal: f.fatal,
                why: format!("script {name}: interpreter {}", f.why),
            });
        }
        return out;
    }
    match elf::parse(&bytes) {
        Ok(info) => {
            if info.is_static() {
                out.push(Finding::fatal(format!(
                    "{name} is statically linked (no PT_INTERP): the dynamic loader never \
                     runs, so LD_PRELOAD is ignored and its sockets would be the kernel's"
                )));
            }
            if info.is_musl() {
                out.push(Finding::fatal(format!(
                    "{name} is linked against musl ({}): libsockshim.so is built for glibc \
                     and cannot be loaded into it",
                    info.interp.as_deref().unwrap_or_default()
                )));
            }
            if let Some(l) = lib.filter(|l| (l.wide, l.machine) != (info.wide, info.machine)) {
                if !info.is_static() {
                    out.push(Finding::fatal(format!(
                        "{name} is a {} program and the library is {}: the dynamic loader \
                         skips a preload library of another class or machine",
                        info.arch(),
                        l.arch()
                    )));
                }
            }
            if info.go {
                out.push(Finding::fatal(format!(
                    "{name} is a Go program: Go makes socket system calls itself, not \
                     through libc, so the shim would never see them"
                )));
            }
        }
        Err(e) => out.push(Finding::warn(format!("{name}: {e}, cannot check it"))),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tmpdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("sockshim-servable-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn me() -> Ids {
        Ids::current()
    }

    #[test]
    fn a_dynamic_program_is_fine() {
        let sh = which(OsStr::new("sh"), Some(OsStr::new("/usr/bin:/bin"))).unwrap();
        assert_eq!(check(&sh, me(), None, None), vec![]);
    }

    #[test]
    fn setuid_to_someone_else_is_fatal_to_oneself_is_not() {
        let d = tmpdir("suid");
        let p = d.join("prog");
        fs::copy("/bin/sh", &p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o4755)).unwrap();
        let owner = fs::metadata(&p).unwrap().uid();
        // Runs as its owner: no id change, no secure-execution mode.
        assert_eq!(check(&p, me(), None, None), vec![]);
        // Someone else running it would switch to the owner's uid.
        let other = Ids {
            uid: owner.wrapping_add(1),
            gid: me().gid,
        };
        let f = check(&p, other, None, None);
        assert!(
            f.len() == 1 && f[0].fatal && f[0].why.contains("setuid"),
            "{f:?}"
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o2755)).unwrap();
        let other = Ids {
            uid: me().uid,
            gid: me().gid.wrapping_add(1),
        };
        let f = check(&p, other, None, None);
        assert!(
            f.len() == 1 && f[0].fatal && f[0].why.contains("setgid"),
            "{f:?}"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn scripts_are_judged_by_their_interpreter() {
        let d = tmpdir("script");
        // A fake "static" interpreter: an ELF file without PT_INTERP.
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        let interp = d.join("staticsh");
        fs::write(&interp, &elf).unwrap();
        fs::set_permissions(&interp, fs::Permissions::from_mode(0o755)).unwrap();
        let direct = d.join("a");
        fs::write(&direct, format!("#!{} -e\necho hi\n", interp.display())).unwrap();
        let f = check(&direct, me(), None, None);
        assert!(f.len() == 1 && f[0].fatal, "{f:?}");
        assert!(f[0].why.contains("interpreter") && f[0].why.contains("statically linked"));
        let via_env = d.join("b");
        fs::write(&via_env, "#!/usr/bin/env -S staticsh -x\n").unwrap();
        let f = check(&via_env, me(), Some(d.as_os_str()), None);
        assert!(f.len() == 1 && f[0].fatal, "{f:?}");
        let dynamic = d.join("c");
        fs::write(&dynamic, "#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(check(&dynamic, me(), None, None), vec![]);
        let missing = d.join("e");
        fs::write(&missing, "#!/usr/bin/env no-such-interpreter-here\n").unwrap();
        let f = check(&missing, me(), Some(d.as_os_str()), None);
        assert!(f.len() == 1 && !f[0].fatal, "{f:?}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn another_class_or_machine_than_the_library_is_fatal() {
        let sh = which(OsStr::new("sh"), Some(OsStr::new("/usr/bin:/bin"))).unwrap();
        let native = lib_info(&sh).unwrap();
        assert_eq!(check(&sh, me(), None, Some(&native)), vec![]);
        let other = ElfInfo {
            wide: !native.wide,
            ..native.clone()
        };
        let f = check(&sh, me(), None, Some(&other));
        assert!(
            f.len() == 1 && f[0].fatal && f[0].why.contains("another class"),
            "{f:?}"
        );
        let other = ElfInfo {
            machine: native.machine.wrapping_add(1),
            ..native
        };
        assert_eq!(check(&sh, me(), None, Some(&other)).len(), 1);
    }

    #[test]
    fn which_follows_path_and_keeps_slashes() {
        let d = tmpdir("which");
        let p = d.join("tool");
        fs::write(&p, "#!/bin/sh\n").unwrap();
        assert_eq!(
            which(OsStr::new("tool"), Some(d.as_os_str())),
            None,
            "not executable"
        );
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            which(OsStr::new("tool"), Some(d.as_os_str())),
            Some(p.clone())
        );
        assert_eq!(
            which(OsStr::new("./x/y"), None),
            Some(PathBuf::from("./x/y"))
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
