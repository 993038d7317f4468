//! A read's scan without the GIL, when `handover` says so, and the GIL taken back as it says.

use pyo3::{ffi, Python};

use crate::handover::{many_cpus, Handover, ALWAYS_BYTES};

static HANDOVER: Handover = Handover::new();

/// Whether a read of `len` bytes by thread `me` is scanned without the GIL.
#[inline]
pub fn lets_go(len: usize, me: usize) -> bool {
    if cfg!(Py_GIL_DISABLED) {
        // No GIL to share: only long reads let the interpreter go (a collection may run).
        return len >= ALWAYS_BYTES;
    }
    HANDOVER.lets_go(len, me)
}

/// `scan` run by thread `me` without the GIL, which is then claimed as `Handover::take_turn`
/// says and taken back.
///
/// `scan` must touch no Python object (not even drop one): pyo3 still counts this thread as
/// attached while it runs.
pub fn detached<T, F: Send + FnOnce() -> T>(_: Python<'_>, me: usize, scan: F) -> T {
    /// Takes the GIL back, also when the scan panics.
    struct Attach(*mut ffi::PyThreadState);
    impl Drop for Attach {
        fn drop(&mut self) {
            // SAFETY: the state `PyEval_SaveThread` returned, not restored yet.
            unsafe { ffi::PyEval_RestoreThread(self.0) };
        }
    }
    // Not pyo3's `detach`: its bookkeeping (two thread-local swaps, the reference pool) is
    // for closures that may attach again, which a scan never does.
    // SAFETY: the thread holds the GIL (`Python` says so).
    let attach = Attach(unsafe { ffi::PyEval_SaveThread() });
    HANDOVER.let_go(me);
    let out = scan();
    if !cfg!(Py_GIL_DISABLED) {
        HANDOVER.take_turn(me, many_cpus());
    }
    drop(attach);
    out
}
