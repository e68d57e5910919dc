//! The socket-filter options whose values hold user pointers or count in
//! instructions (Linux's `copy_bpf_fprog_from_user` and `sk_get_filter`):
//! SO_ATTACH_FILTER's `struct sock_fprog` points at the program, which is
//! copied in here and given to the stack after 4 bytes saying what the
//! copy found (stack::kern::sk_filter: the stack's EPERM for a locked
//! filter comes first); SO_GET_FILTER's length is a count of
//! instructions.

use libc::{c_void, socklen_t};

use crate::fdtable::OpenFile;
use crate::ops::{self, R};
use crate::uaccess;

/// Linux's BPF_MAXINSNS and the size of one `struct sock_filter`.
const BPF_MAXINSNS: usize = 4096;
const INSN: usize = 8;

/// SO_ATTACH_FILTER's value for the stack, in Linux's order of checks:
/// an optlen under an int (EINVAL), the int's copy (EFAULT), an optlen
/// other than a sock_fprog's (EINVAL), the sock_fprog's copy (EFAULT);
/// then, left to the stack after its lock check: a null or empty or too
/// long program (EINVAL), the program's copy (EFAULT).
pub fn attach_value(val: *const c_void, len: socklen_t) -> R<Vec<u8>> {
    if (len as i32) < 4 {
        return Err(libc::EINVAL);
    }
    let mut int = [0u8; 4];
    uaccess::copy_in(val as usize, &mut int)?;
    if len as usize != std::mem::size_of::<libc::sock_fprog>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: sock_fprog (a length and a pointer) accepts any bit pattern.
    let fprog = unsafe { uaccess::read_val(val as *const libc::sock_fprog) }?;
    let n = fprog.len as usize;
    let mut v = vec![0u8; 4];
    if fprog.filter.is_null() || n == 0 || n > BPF_MAXINSNS {
        v.copy_from_slice(&libc::EINVAL.to_ne_bytes());
        return Ok(v);
    }
    v.resize(4 + n * INSN, 0);
    if uaccess::copy_in(fprog.filter as usize, &mut v[4..]).is_err() {
        v.truncate(4);
        v.copy_from_slice(&libc::EFAULT.to_ne_bytes());
    }
    Ok(v)
}

/// getsockopt(SO_GET_FILTER), `l` read from the caller's optlen at
/// `len_at`: it counts instructions. No filter: 0; a length of 0 asks the
/// count; a shorter one is EINVAL; else the program is copied out to
/// `val_at`. The optlen becomes the count.
pub fn get_filter(of: &OpenFile, val_at: usize, len_at: usize, l: i32) -> R<i32> {
    if l < 0 {
        return Err(libc::EINVAL);
    }
    let mut prog = vec![0u8; BPF_MAXINSNS * INSN];
    let n = ops::getsockopt(of, libc::SOL_SOCKET, libc::SO_GET_FILTER, &mut prog)?;
    let count = (n / INSN) as socklen_t;
    if l != 0 && count != 0 {
        if (l as socklen_t) < count {
            return Err(libc::EINVAL);
        }
        uaccess::copy_out(&[(val_at, &prog[..n])])?;
    }
    // SAFETY: socklen_t has no padding.
    uaccess::copy_out(&[(len_at, unsafe { uaccess::bytes_of(&count) })])?;
    Ok(0)
}
