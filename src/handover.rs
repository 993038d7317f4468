//! Turn-taking for the GIL among threads that feed accumulators: which reads let it go, and
//! how a thread takes it back without sleeping. Plain atomics, no Python: the binding
//! (`py::gil`) releases and re-takes the GIL around what this decides.
//!
//! A long read always lets the GIL go. A short one (1-16 KiB, scanned in a few microseconds)
//! lets it go only while more than one thread feeds: alone, handing the GIL over is pure cost.
//! Taking it back must then not sleep. CPython's GIL is a condition variable: a thread that
//! finds it held sleeps until the holder lets it go, and waking it costs more, on a VM, than the
//! scan it made room for. But a thread feeding streams holds the GIL only between two reads
//! (its loop, the call), and lets it go again at its next read's scan. So a thread that has
//! scanned its read while another feeding thread holds the GIL spins until that thread's next
//! scan begins, then takes the free GIL without sleeping. The holder is known from its claim
//! here: a claim older than `SPIN_WHILE` is taken for stale (that thread waits for the network
//! or runs other code) and nobody spins for it. One thread spins at a time; with one CPU, none.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Reads of at least this many bytes always let the GIL go.
pub const ALWAYS_BYTES: usize = 16 * 1024;

/// Reads of at least this many bytes let the GIL go while threads share it. Shorter scans cost
/// less than the hand-over: two threads in 1-4 KB reads ran at 1.02-1.09x one thread with this
/// at 256 bytes, 1.29-1.33x at 1 KiB, 0.96-1.18x at 2 KiB (stop 22).
pub const SHARED_BYTES: usize = 1024;

/// After another thread's read, a thread's next this many reads count as shared. A thread
/// waiting for the GIL cannot say so: it is seen only at its reads, and the GIL has to be let go
/// for it to read at all. A CPython waiter wakes in tens of microseconds, and these reads take
/// at least a millisecond (a 1 KiB scan is ~1 us). Counted, not timed: a thread alone reads no
/// clock (~40 ns a call on this VM, about 1% of a 1-4 KB read) and, once its count is spent,
/// writes nothing here. It was 2 ms from another thread's read until stop 25: two threads
/// gave the same 1.03-1.27x either way.
pub const SHARED_READS: u32 = 1024;

/// How long after its claim a feeding thread is taken to still hold the GIL between two reads,
/// in nanoseconds. Its loop and a call take about a microsecond; a new accumulator, `finish()`
/// and `message()` between two streams 2-10 (stop 22).
pub const SPIN_WHILE: u64 = 20_000;

/// Who fed last and who holds the GIL, as far as feeding threads know. Threads are named by a
/// token that is never 0 and never another live thread's (the binding uses its `PyThreadState`).
#[repr(align(64))] // one cache line: the threads touch it on every read anyway
pub struct Handover {
    /// The thread whose read came last.
    last: AtomicUsize,
    /// How many more of `last`'s reads count as shared.
    left: AtomicU32,
    /// The thread that claimed the GIL after its scan and has not begun its next one (0: none).
    holder: AtomicUsize,
    /// When `holder` claimed it: nanoseconds from `now()`'s epoch.
    since: AtomicU64,
    /// A thread is spinning.
    spinning: AtomicBool,
}

impl Handover {
    pub const fn new() -> Self {
        Self {
            last: AtomicUsize::new(0),
            left: AtomicU32::new(0),
            holder: AtomicUsize::new(0),
            since: AtomicU64::new(0),
            spinning: AtomicBool::new(false),
        }
    }

    /// Whether thread `me` lets the GIL go for a read of `len` bytes.
    #[inline]
    pub fn lets_go(&self, len: usize, me: usize) -> bool {
        if len >= ALWAYS_BYTES {
            return true;
        }
        if len < SHARED_BYTES {
            return false;
        }
        let last = self.last.load(Ordering::Relaxed);
        if last != me {
            self.last.store(me, Ordering::Relaxed);
            // The process's first reader follows nobody: alone, it keeps the GIL from the start.
            if last == 0 {
                return false;
            }
            self.left.store(SHARED_READS, Ordering::Relaxed);
            return true;
        }
        // Not atomic as a whole: another thread's read in between only restarts the count.
        let left = self.left.load(Ordering::Relaxed);
        if left == 0 {
            return false;
        }
        self.left.store(left - 1, Ordering::Relaxed);
        true
    }

    /// Thread `me` has let the GIL go: a thread spinning for it may take it.
    #[inline]
    pub fn let_go(&self, me: usize) {
        if self.holder.load(Ordering::Relaxed) == me {
            let _ = self
                .holder
                .compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed);
        }
    }

    /// Claims the GIL for thread `me`, about to take it back: at once when no feeding thread
    /// holds it; else, with `many_cpus` and no other thread spinning, after spinning while the
    /// holder is between two of its reads (`SPIN_WHILE` from its claim at most); else over the
    /// holder's claim. Whether it spun.
    pub fn take_turn(&self, me: usize, many_cpus: bool) -> bool {
        if self.claim(me) {
            return false;
        }
        let since = self.since.load(Ordering::Relaxed);
        let stale = || now().saturating_sub(since) >= SPIN_WHILE;
        if stale() || !many_cpus || self.spinning.swap(true, Ordering::Acquire) {
            self.take_over(me);
            return false;
        }
        let claimed = 'spin: loop {
            for _ in 0..64 {
                if self.holder.load(Ordering::Relaxed) == 0 && self.claim(me) {
                    break 'spin true;
                }
                std::hint::spin_loop();
            }
            if stale() {
                break false;
            }
        };
        self.spinning.store(false, Ordering::Release);
        if !claimed {
            self.take_over(me);
        }
        true
    }

    /// The thread holding the GIL as far as feeding threads know (0: none).
    #[cfg(test)]
    fn holder(&self) -> usize {
        self.holder.load(Ordering::Relaxed)
    }

    /// `me` claims the GIL if no feeding thread holds it.
    fn claim(&self, me: usize) -> bool {
        let claimed = self
            .holder
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if claimed {
            self.since.store(now(), Ordering::Relaxed);
        }
        claimed
    }

    /// `me` claims the GIL over a holder not waited for (longer).
    fn take_over(&self, me: usize) {
        self.since.store(now(), Ordering::Relaxed);
        self.holder.store(me, Ordering::Release);
    }
}

impl Default for Handover {
    fn default() -> Self {
        Self::new()
    }
}

/// Nanoseconds since the first call (monotonic).
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Whether this process may run on more than one CPU (spinning on one would only delay the
/// holder).
pub fn many_cpus() -> bool {
    static MANY: OnceLock<bool> = OnceLock::new();
    *MANY.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn only_shared_short_reads_let_go() {
        let h = Handover::new();
        assert!(h.lets_go(ALWAYS_BYTES, 1) && !h.lets_go(SHARED_BYTES - 1, 1));
        assert!(!h.lets_go(SHARED_BYTES, 1), "the first reader, alone: the GIL is kept");
        // Thread 2's read follows thread 1's: shared, for it and for `SHARED_READS` more.
        for _ in 0..=SHARED_READS {
            assert!(h.lets_go(SHARED_BYTES, 2));
        }
        assert!(!h.lets_go(SHARED_BYTES, 2), "alone for longer: the GIL is kept");
        assert!(h.lets_go(ALWAYS_BYTES, 2), "a long read lets go, alone too");
        assert!(!h.lets_go(SHARED_BYTES, 2), "a long read does not count as shared");
        // Another thread's read shares it again, for both.
        assert!(h.lets_go(SHARED_BYTES, 1) && h.lets_go(SHARED_BYTES, 2) && h.lets_go(SHARED_BYTES, 2));
        assert!(!h.lets_go(SHARED_BYTES - 1, 1));
        for _ in 0..SHARED_READS - 1 {
            assert!(h.lets_go(SHARED_BYTES, 2));
        }
        assert!(!h.lets_go(SHARED_BYTES, 2));
    }

    #[test]
    fn a_free_gil_is_claimed_at_once_and_let_go_by_its_holder_only() {
        let h = Handover::new();
        assert!(!h.take_turn(1, true));
        assert_eq!(h.holder(), 1);
        h.let_go(2);
        assert_eq!(h.holder(), 1, "only the holder lets go");
        h.let_go(1);
        assert_eq!(h.holder(), 0);
    }

    #[test]
    fn a_thread_spins_until_the_holder_lets_go() {
        if !many_cpus() {
            return; // nothing spins on one CPU (see the next tests)
        }
        // Other tests share the CPUs: a stalled thread may miss the hand-over (the waiter then
        // rightly takes a claim older than `SPIN_WHILE` over). Tries go on, a millisecond
        // apart, until one clean hand-over; a handover that never hands over fails after 20 s.
        // (Twenty tries back to back all failed on a CI machine while a long test ran beside.)
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut tries = 0;
        while !hand_over_once() {
            tries += 1;
            assert!(Instant::now() < deadline, "no clean hand-over in {tries} tries");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Thread 1 claims, thread 2 comes to take its turn, thread 1 lets go once thread 2 is
    /// seen spinning: whether thread 2 spun, claimed only after the let-go, and left no spinner.
    fn hand_over_once() -> bool {
        let h = Arc::new(Handover::new());
        let flags: [Arc<AtomicBool>; 3] = std::array::from_fn(|_| Arc::new(AtomicBool::new(false)));
        let [started, ready, done] = flags.clone();
        let waiter = {
            let (h, [started, ready, done]) = (Arc::clone(&h), flags);
            std::thread::spawn(move || {
                started.store(true, Ordering::SeqCst);
                while !ready.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                let spun = h.take_turn(2, true);
                done.store(true, Ordering::SeqCst);
                spun
            })
        };
        // Claimed fresh just before the waiter tries (a thread's start takes longer than
        // `SPIN_WHILE`).
        while !started.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        assert!(!h.take_turn(1, true));
        ready.store(true, Ordering::SeqCst);
        let wait = Instant::now();
        while !h.spinning.load(Ordering::SeqCst)
            && !done.load(Ordering::SeqCst)
            && wait.elapsed() < Duration::from_millis(50)
        {
            std::hint::spin_loop();
        }
        let early = done.load(Ordering::SeqCst); // claimed while thread 1 held: stale or wrong
        let seen = h.spinning.load(Ordering::SeqCst);
        h.let_go(1);
        let spun = waiter.join().unwrap();
        assert_eq!(h.holder(), 2);
        assert!(!h.spinning.load(Ordering::SeqCst), "a spinner is left");
        seen && !early && spun
    }

    #[test]
    fn a_waiter_never_claims_while_a_fresh_holder_holds() {
        let h = Handover::new();
        let before = Instant::now();
        assert!(!h.take_turn(1, true));
        // Thread 1 holds the GIL and does not let go: thread 2 spins out the claim's
        // `SPIN_WHILE` (or finds it stale at once on a stalled machine), then takes over.
        let spun = h.take_turn(2, true);
        assert_eq!(h.holder(), 2);
        if spun {
            assert!(before.elapsed() >= Duration::from_nanos(SPIN_WHILE));
        }
        assert!(spun || !many_cpus() || before.elapsed() >= Duration::from_nanos(SPIN_WHILE));
    }

    #[test]
    fn a_stale_claim_is_taken_over() {
        let h = Handover::new();
        assert!(!h.take_turn(1, true));
        // Thread 1 never lets go (it went on to wait for the network).
        std::thread::sleep(Duration::from_nanos(SPIN_WHILE * 2));
        let start = Instant::now();
        assert!(!h.take_turn(2, true), "no spin for a stale claim");
        assert_eq!(h.holder(), 2);
        assert!(start.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn one_cpu_or_another_spinner_means_no_spinning() {
        let h = Handover::new();
        assert!(!h.take_turn(1, true));
        assert!(!h.take_turn(2, false), "one CPU: never spins");
        assert_eq!(h.holder(), 2);
        h.spinning.store(true, Ordering::SeqCst);
        assert!(!h.take_turn(3, true), "another thread spins already");
        assert_eq!(h.holder(), 3);
    }
}
