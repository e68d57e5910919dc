//! The shim's check of its two reference counts against each other
//! (issue 15's audit: `OpenFile.fd_count` and the table's per-socket
//! count were never checked against the stack's `so_count`). With the
//! in-process stack every descriptor of a socket holds one `so_count`
//! reference, a waiting call one (`callref`) and a listen-queue entry
//! one: so at a quiescent point `so_count == descriptors + waiting calls +
//! queued` for every socket. `SOCKSHIM_CHECK_REFS=1` runs the check at
//! process exit (before the exit closes everything) and prints one
//! `sockshim: refs mismatch` line per socket that breaks it; c-tests/run
//! sets it and fails a test whose shim half printed one.

use crate::driver::Shim;

/// Sockets whose `so_count` differs from what this process holds: one
/// message each. Another thread between dropping a descriptor and
/// releasing its reference looks like a mismatch for an instant: a
/// mismatch counts only if it is still there a little later.
pub fn mismatches(s: &Shim, st: &stack::Stack) -> Vec<String> {
    let once = || -> Vec<(stack::SocketHandle, u32, u32, u32, bool)> {
        st.socket_table(s.now())
            .into_iter()
            .filter_map(|r| {
                let fds = s.fds.count_of(r.handle);
                let calls = crate::callref::calls_on(r.handle);
                let want = fds + calls + r.queued as u32;
                (r.refs != want).then_some((r.handle, r.refs, fds, calls, r.queued))
            })
            .collect()
    };
    let first = once();
    if first.is_empty() {
        return Vec::new();
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    once()
        .into_iter()
        .filter(|m| first.contains(m))
        .map(|(h, refs, fds, calls, queued)| {
            format!(
                "sockshim: refs mismatch: socket {} has so_count {refs}, held by {fds} \
                 descriptor(s), {calls} waiting call(s){}",
                h.as_u64(),
                if queued { " and a queue entry" } else { "" }
            )
        })
        .collect()
}
