//! `toolwire.StreamAccumulator`: the core accumulator behind one Python call per network read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString};

use super::errors::{call_error_instance, core_error, parse_error};
use super::events::{
    Finish, Fragment, LazyArgs, LazyJson, ProviderError, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta,
    ToolCallFinished, ToolCallReady, ToolCallStarted, Usage,
};
use super::fast_class::new_object;
use super::gil;
use super::value::{build_json, build_prefix_value, build_value, new_str, only_ours, ValueCache};
use crate::accumulate::{Accumulator, Call, CallView, Event, NoEvents, Outcome};
use crate::error::ParseKind;
use crate::formats::Adapter;
use crate::limits::Limits;
use crate::partial_json::{Scan, MAX_DEPTH_CAP};

/// Per call: Python strings of its id, name and arguments, and the scan that `.partial` values
/// are built from. That scan lags behind the core's: it advances only as far as the value asked
/// for, so the values of all fragments of one read, asked for in order, cost O(fragment) each
/// instead of a re-parse of the prefix.
struct CallCache {
    /// Each text at a length, as last made. The core only appends to a call's texts (an id or
    /// name is set once, see `Call`), so a length names one text: a string is remade only when
    /// it grew, and checking costs no comparison of the text. A call that arrives whole (Ollama,
    /// Gemini) gives the same arguments to its delta, ready and finished events and `message()`.
    id: Option<(usize, Py<PyString>)>,
    name: Option<(usize, Py<PyString>)>,
    args: Option<(usize, Py<PyString>)>,
    scan: Scan,
    value: ValueCache,
}

impl CallCache {
    fn new(max_depth: usize) -> Self {
        Self {
            id: None,
            name: None,
            args: None,
            scan: Scan::new().with_max_depth(max_depth),
            value: ValueCache::default(),
        }
    }
}

/// `text` as a Python string, from `slot` when it holds one of that length (see `CallCache`).
fn grown_str(py: Python<'_>, slot: &mut Option<(usize, Py<PyString>)>, text: &str) -> Py<PyString> {
    match slot {
        Some((len, obj)) if *len == text.len() => obj.clone_ref(py),
        _ => {
            let obj = new_str(py, text).unbind();
            *slot = Some((text.len(), obj.clone_ref(py)));
            obj
        }
    }
}

/// The adapter for the `format` option.
fn adapter_for(format: &str) -> PyResult<Adapter> {
    Adapter::named(format).ok_or_else(|| {
        PyValueError::new_err(format!(
            "format must be {}, not {format:?}",
            crate::formats::FORMAT_NAMES
        ))
    })
}

/// Accumulates one streamed response: feed it the raw bytes of each network read.
///
/// One accumulator per stream. Its events may be read from any thread while the owner goes on
/// feeding: the state sits behind a lock, taken without holding the GIL while waiting.
#[pyclass(frozen, module = "toolwire", name = "StreamAccumulator")]
pub struct PyStreamAccumulator {
    inner: Mutex<Inner>,
    /// A token of the thread holding `inner`, to refuse re-entrant use (a finalizer run by the
    /// garbage collector in the middle of `feed`) instead of deadlocking on it.
    holder: AtomicUsize,
}

/// The state behind the lock.
pub struct Inner {
    core: Accumulator,
    events: bool,
    scratch: Vec<Event>,
    calls: Vec<Vec<CallCache>>,
    /// The last usage (built when asked for, or at once when building could fail).
    usage: Option<LazyJson>,
    usage_seen: u64,
    /// The list the last read's events were returned in (see `events_list`).
    spare: Option<Py<PyList>>,
}

/// The lock held by the current thread; clears the holder token when dropped.
pub struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    holder: &'a AtomicUsize,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.holder.store(0, Ordering::Release);
    }
}

/// This thread's state in the interpreter, as a token: one thread's, never another's while
/// the thread lives. Cheaper than a thread-local of this library's (`__tls_get_addr` from a
/// shared library: a tenth of a short read's entry cost).
fn thread_token(_: Python<'_>) -> usize {
    // SAFETY: the thread is attached (the token says so): it has a current thread state.
    unsafe { pyo3::ffi::PyThreadState_Get() as usize }
}

impl PyStreamAccumulator {
    /// `feed(data)` for a `bytes` read under `handover::ALWAYS_BYTES`: its events list as a new
    /// reference, or NULL with the error set. A read the core keeps whole (no line end:
    /// `SseDecoder::keep_inside_line`) only returns the (empty) list. `None`, with nothing done,
    /// for any other argument, a finished stream or a state in use: pyo3's `feed` then takes
    /// the call (`fast_feed`).
    #[cfg(not(any(Py_LIMITED_API, PyPy)))] // used by fast_feed only
    pub(super) fn feed_fast(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> Option<*mut pyo3::ffi::PyObject> {
        let py = slf.py();
        let bytes = data.cast::<PyBytes>().ok()?.as_bytes();
        if bytes.len() >= crate::handover::ALWAYS_BYTES {
            return None;
        }
        let this = slf.get();
        let mut inner = this.held(this.inner.try_lock().ok()?, thread_token(py));
        if inner.core.is_finished() {
            return None;
        }
        Some(match inner.take_read(slf, bytes, None) {
            Ok(list) => list.into_ptr(),
            Err(err) => {
                err.restore(py);
                std::ptr::null_mut()
            }
        })
    }

    /// Takes the state's lock; waits for another thread without holding the GIL.
    pub fn lock(&self, py: Python<'_>) -> PyResult<Locked<'_>> {
        let me = thread_token(py);
        let guard = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) if self.holder.load(Ordering::Acquire) == me => {
                return Err(PyRuntimeError::new_err(
                    "StreamAccumulator used again while one of its calls is running on this thread",
                ));
            }
            Err(TryLockError::WouldBlock) => self.inner.lock_py_attached(py).unwrap_or_else(PoisonError::into_inner),
        };
        Ok(self.held(guard, me))
    }

    /// The state's lock, marked as this thread's: a call back into this accumulator from this
    /// thread (from a finalizer an allocation may run) is refused, not waited for.
    fn held<'a>(&'a self, guard: MutexGuard<'a, Inner>, me: usize) -> Locked<'a> {
        self.holder.store(me, Ordering::Release);
        Locked {
            guard,
            holder: &self.holder,
        }
    }
}

/// The call an event names (by its choice's slot and the call's ordinal), looked up as a lazy
/// value reads it: checked, not indexed.
fn event_call(core: &Accumulator, slot: usize, ordinal: usize) -> Option<&Call> {
    core.choices().get(slot).and_then(|c| c.calls.get(ordinal))
}

fn call_cache(caches: &mut Vec<Vec<CallCache>>, max_depth: usize, slot: usize, call: usize) -> &mut CallCache {
    if caches.len() <= slot {
        caches.resize_with(slot + 1, Vec::new);
    }
    let calls = &mut caches[slot];
    if calls.len() <= call {
        calls.resize_with(call + 1, || CallCache::new(max_depth));
    }
    &mut calls[call]
}

impl Inner {
    /// The list for a read without events: the one the last such read returned when nobody
    /// else holds it any more (emptied), else a new one, kept for the next read. A short read's
    /// own cost is of the order of making and freeing a list; a caller that keeps a list gets
    /// a new one. (A read with events gets a list of its own: see `run`.)
    fn events_list<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        if let Some(spare) = &self.spare {
            if only_ours(spare.as_any(), false) {
                let list = spare.bind(py).clone();
                let len = isize::try_from(list.len()).unwrap_or(isize::MAX);
                // SAFETY: a list we hold; a NULL item list deletes the slice (no slice object
                // made, as `del_slice` makes one).
                if len > 0 && unsafe { pyo3::ffi::PyList_SetSlice(list.as_ptr(), 0, len, std::ptr::null_mut()) } != 0 {
                    return Err(PyErr::fetch(py));
                }
                return Ok(list);
            }
        }
        let list = PyList::empty(py);
        // Released as a `Bound`: at once, also where pyo3 does not count the GIL as held
        // (`fast_feed`), where dropping a `Py` would defer it.
        if let Some(old) = self.spare.replace(list.clone().unbind()) {
            drop(old.into_bound(py));
        }
        Ok(list)
    }

    fn slot_of(&self, choice: u32) -> usize {
        self.core.choices().iter().position(|c| c.index == choice).unwrap_or(0)
    }

    fn id_name(&mut self, py: Python<'_>, slot: usize, ordinal: usize) -> (Py<PyString>, Py<PyString>) {
        // Disjoint borrows: the strings stay in the core, the cache beside it (no copy per event).
        let Self { core, calls, .. } = self;
        let call: &Call = &core.choices()[slot].calls[ordinal];
        let cache = call_cache(calls, core.limits().max_depth, slot, ordinal);
        (
            grown_str(py, &mut cache.id, &call.id),
            grown_str(py, &mut cache.name, &call.name),
        )
    }

    /// A call's arguments text at `len` bytes, as a Python string (made once per length).
    fn args_str(&mut self, py: Python<'_>, slot: usize, ordinal: usize, len: usize) -> Py<PyString> {
        let Self { core, calls, .. } = self;
        let text = core.choices()[slot].calls[ordinal].arguments();
        grown_str(
            py,
            &mut call_cache(calls, core.limits().max_depth, slot, ordinal).args,
            &text[..len],
        )
    }

    /// The bytes `range` of a call's arguments text, as a Python string (`ToolCallDelta.fragment`).
    pub fn args_slice<'py>(
        &self,
        py: Python<'py>,
        slot: usize,
        ordinal: usize,
        range: std::ops::Range<usize>,
    ) -> PyResult<Bound<'py, PyString>> {
        let text = event_call(&self.core, slot, ordinal)
            .and_then(|call| call.arguments().get(range))
            .ok_or_else(|| PyRuntimeError::new_err("toolwire: a fragment outside its call's arguments"))?;
        Ok(new_str(py, text))
    }

    /// The Python value of a call's arguments as they were at `len` bytes.
    pub fn args_value(&mut self, py: Python<'_>, slot: usize, ordinal: usize, len: usize) -> PyResult<Py<PyAny>> {
        let Self { core, calls, .. } = self;
        let Some(call) = event_call(core, slot, ordinal) else {
            return Ok(py.None());
        };
        let text = call.args.text();
        let max_depth = core.limits().max_depth;
        let cache = call_cache(calls, max_depth, slot, ordinal);
        if len < cache.scan.pos() || len > text.len() {
            // Asked out of order (an older event after a newer one): parse that prefix alone.
            let prefix = text.get(..len).unwrap_or("");
            return Ok(build_prefix_value(py, prefix, max_depth)?.map_or_else(|| py.None(), Bound::unbind));
        }
        // A malformed text keeps its error in the scan; the value shows what came before it.
        let _ = cache.scan.advance(text, len);
        Ok(build_value(py, text, &cache.scan, &mut cache.value, true)?.map_or_else(|| py.None(), Bound::unbind))
    }

    fn call_error(&self, py: Python<'_>, call: &Call) -> PyResult<Option<Py<PyAny>>> {
        match &call.outcome {
            Some(Err(err)) => Ok(Some(
                call_error_instance(py, err, self.core.limits().max_depth)?.unbind(),
            )),
            _ => Ok(None),
        }
    }

    /// Takes the usage object reported since the last read. A short one (every usage seen in
    /// practice) is built when asked for; a longer one is built now, because it could hold an
    /// integer past Python's digit limit: that keeps the previous usage and is returned as the
    /// read's error.
    fn sync_usage(&mut self, py: Python<'_>) -> Option<PyErr> {
        let count = self.core.usage_count();
        if count == self.usage_seen {
            return None;
        }
        self.usage_seen = count;
        let raw = self.core.usage()?;
        match LazyJson::of(py, raw, self.core.limits().max_depth) {
            Ok(Some(usage)) => {
                self.usage = Some(usage);
                None
            }
            Ok(None) => None,
            Err(err) => Some(parse_error(
                py,
                ParseKind::InvalidChunk,
                self.core.usage_offset().unwrap_or(0),
                &format!("usage: {}", err.value(py)),
            )),
        }
    }

    /// The value of a `Usage` event (see `sync_usage`); `None` for one that cannot be built
    /// (`sync_usage` reported it).
    fn usage_value(&self, py: Python<'_>, raw: &str) -> Option<LazyJson> {
        LazyJson::of(py, raw, self.core.limits().max_depth).ok().flatten()
    }

    fn provider_error(&self, py: Python<'_>, err: &crate::accumulate::ProviderError) -> ProviderError {
        let max_depth = self.core.limits().max_depth;
        // Payloads Python cannot build (too deep, huge integers) are shown as their JSON text.
        let as_json_or_text = |raw: &str| match build_json(py, raw, max_depth) {
            Ok(Some(value)) => value.unbind(),
            _ => new_str(py, raw).into_any().unbind(),
        };
        let code = err.code.as_deref().map_or_else(|| py.None(), as_json_or_text);
        let body = as_json_or_text(&err.body);
        ProviderError {
            message: new_str(py, &err.message).unbind(),
            code,
            kind: err
                .kind
                .as_deref()
                .map_or_else(|| py.None(), |k| new_str(py, k).into_any().unbind()),
            body,
        }
    }

    /// The event object of one of a call's moments (started, delta, ready, finished).
    fn call_event(&mut self, slf: &Py<PyStreamAccumulator>, py: Python<'_>, event: &Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            Event::CallStarted { choice, call } => {
                let slot = self.slot_of(*choice);
                let (id, name) = self.id_name(py, slot, *call);
                new_object(
                    py,
                    ToolCallStarted {
                        index: *call,
                        id,
                        name,
                        choice: *choice,
                    },
                )?
            }
            Event::CallDelta { choice, call, range } => {
                let slot = self.slot_of(*choice);
                let (id, name) = self.id_name(py, slot, *call);
                let fragment = Fragment {
                    args: LazyArgs::new(slf.clone_ref(py), slot, *call, range.end),
                    start: range.start,
                };
                new_object(
                    py,
                    ToolCallDelta {
                        index: *call,
                        id,
                        name,
                        fragment,
                        choice: *choice,
                    },
                )?
            }
            Event::CallReady { choice, call, len } => {
                let slot = self.slot_of(*choice);
                let (id, name) = self.id_name(py, slot, *call);
                let lazy = LazyArgs::new(slf.clone_ref(py), slot, *call, *len);
                let arguments = self.args_str(py, slot, *call, *len);
                new_object(
                    py,
                    ToolCallReady {
                        index: *call,
                        id,
                        name,
                        arguments,
                        choice: *choice,
                        lazy,
                    },
                )?
            }
            Event::CallFinished { choice, call } => {
                let slot = self.slot_of(*choice);
                let (id, name) = self.id_name(py, slot, *call);
                let core_call = &self.core.choices()[slot].calls[*call];
                let error = self.call_error(py, core_call)?;
                let len = core_call.arguments().len();
                let lazy = LazyArgs::new(slf.clone_ref(py), slot, *call, len);
                let arguments = self.args_str(py, slot, *call, len);
                new_object(
                    py,
                    ToolCallFinished {
                        index: *call,
                        id,
                        name,
                        arguments,
                        choice: *choice,
                        error,
                        lazy,
                    },
                )?
            }
            _ => unreachable!("only call events are passed here"),
        })
    }

    /// The Python events of a read, in a list made at its size (a list grown by appending
    /// reallocates as it grows), with what was made before a failure.
    fn convert<'py>(
        &mut self,
        slf: &Py<PyStreamAccumulator>,
        py: Python<'py>,
        events: &[Event],
    ) -> PyResult<(Bound<'py, PyList>, PyResult<()>)> {
        let len = isize::try_from(events.len()).unwrap_or(isize::MAX);
        // SAFETY: a new list of `len` empty slots, each filled once below; a collection that
        // runs in between skips empty slots, and no other code can reach the list before it is
        // returned.
        let out =
            unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(len))?.cast_into_unchecked::<PyList>() };
        let mut filled: isize = 0;
        let converted = self.fill(slf, py, events, &out, &mut filled);
        // SAFETY: our list; slots from `filled` on are empty, and a NULL item list deletes
        // them.
        if filled < len && unsafe { pyo3::ffi::PyList_SetSlice(out.as_ptr(), filled, len, std::ptr::null_mut()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok((out, converted))
    }

    fn fill(
        &mut self,
        slf: &Py<PyStreamAccumulator>,
        py: Python<'_>,
        events: &[Event],
        out: &Bound<'_, PyList>,
        filled: &mut isize,
    ) -> PyResult<()> {
        for event in events {
            let obj: Py<PyAny> = match event {
                Event::Text { choice, range } => {
                    let slot = self.slot_of(*choice);
                    let text = new_str(py, &self.core.choices()[slot].content[range.clone()]).unbind();
                    new_object(py, TextDelta { text, choice: *choice })?
                }
                Event::Reasoning { choice, range } => {
                    let slot = self.slot_of(*choice);
                    let text = new_str(py, &self.core.choices()[slot].reasoning[range.clone()]).unbind();
                    new_object(py, ReasoningDelta { text, choice: *choice })?
                }
                Event::CallStarted { .. }
                | Event::CallDelta { .. }
                | Event::CallReady { .. }
                | Event::CallFinished { .. } => self.call_event(slf, py, event)?,
                Event::Usage { raw, .. } => {
                    // One that cannot be built is reported as the read's error by `sync_usage`.
                    let Some(usage) = self.usage_value(py, raw) else {
                        continue;
                    };
                    Py::new(py, Usage { usage })?.into_any()
                }
                Event::Finish { choice } => {
                    let slot = self.slot_of(*choice);
                    let reason = self.core.choices()[slot].finish_reason.as_deref().unwrap_or("");
                    new_object(
                        py,
                        Finish {
                            reason: new_str(py, reason).unbind(),
                            choice: *choice,
                            outcome: self.core.finish_outcome(*choice).as_str(),
                        },
                    )?
                }
                Event::ProviderError(err) => new_object(py, self.provider_error(py, err))?,
            };
            // SAFETY: `filled` is an empty slot of `out` (fewer are filled than there are
            // events); the reference is stolen.
            if unsafe { pyo3::ffi::PyList_SetItem(out.as_ptr(), *filled, obj.into_ptr()) } != 0 {
                return Err(PyErr::fetch(py));
            }
            *filled += 1;
        }
        Ok(())
    }

    /// A read of an unfinished stream: most short reads end inside a line, and are only kept,
    /// with nothing to report; any other is read.
    fn take_read<'py>(
        &mut self,
        slf: &Bound<'py, PyStreamAccumulator>,
        bytes: &[u8],
        events: Option<bool>,
    ) -> PyResult<Bound<'py, PyList>> {
        if self.core.keep_inside_line(bytes) {
            return self.events_list(slf.py());
        }
        self.run(slf, Some(bytes), events)
    }

    fn run<'py>(
        &mut self,
        slf: &Bound<'py, PyStreamAccumulator>,
        data: Option<&[u8]>,
        events: Option<bool>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let this = self;
        let want_events = events.unwrap_or(this.events);
        let mut scratch = std::mem::take(&mut this.scratch);
        scratch.clear();
        let core = &mut this.core;
        let mut scan = |scratch: &mut Vec<Event>| match (data, want_events) {
            (Some(bytes), true) => core.feed(bytes, scratch),
            (Some(bytes), false) => core.feed(bytes, &mut NoEvents),
            (None, true) => core.finish(scratch),
            (None, false) => core.finish(&mut NoEvents),
        };
        // The scan touches no Python object (the bytes are an immutable `bytes` or `str`
        // buffer, or our own copy): other threads run meanwhile. A short read keeps the GIL
        // unless other threads feed too (`handover`).
        let me = thread_token(py);
        let result = match data {
            Some(d) if gil::lets_go(d.len(), me) => gil::detached(py, me, || scan(&mut scratch)),
            _ => scan(&mut scratch),
        };
        let usage_error = this.sync_usage(py);
        // Most short reads make no event: the kept list, and the events' handle on the
        // accumulator, only then. Events go into a list of their own, never the kept one: they
        // hold the accumulator (their lazy values read it), so a kept list of them would make a
        // cycle the collector cannot see (this class has no `__traverse__`), and an accumulator
        // whose last read made events would never be freed.
        let (out, converted) = if scratch.is_empty() {
            (this.events_list(py)?, Ok(()))
        } else {
            this.convert(slf.as_unbound(), py, &scratch)?
        };
        scratch.clear();
        this.scratch = scratch;
        converted?;
        match (result, usage_error) {
            (Ok(()), None) => Ok(out),
            (Err(err), _) => Err(core_error(py, &err, Some(&out))),
            (Ok(()), Some(err)) => {
                err.value(py).setattr(intern!(py, "events"), &out)?;
                Err(err)
            }
        }
    }

    /// The assistant message of a choice as a dict, from the core's one message view.
    fn message_dict<'py>(&mut self, py: Python<'py>, choice: u32) -> PyResult<Bound<'py, PyDict>> {
        let msg = PyDict::new(py);
        msg.set_item(intern!(py, "role"), intern!(py, "assistant"))?;
        let Some(slot) = self.core.choices().iter().position(|c| c.index == choice) else {
            msg.set_item(intern!(py, "content"), py.None())?;
            return Ok(msg);
        };
        // Disjoint borrows: the view reads the core, the string cache sits beside it.
        let Self { core, calls, .. } = self;
        let max_depth = core.limits().max_depth;
        let view = core.choices()[slot].message();
        msg.set_item(intern!(py, "content"), view.content.map(|text| new_str(py, text)))?;
        if let Some(reasoning) = view.reasoning {
            msg.set_item(intern!(py, "reasoning_content"), new_str(py, reasoning))?;
        }
        if let Some(refusal) = view.refusal {
            msg.set_item(intern!(py, "refusal"), new_str(py, refusal))?;
        }
        let function_dict = |call: &CallView<'_>, cache: &mut CallCache| -> PyResult<Bound<'py, PyDict>> {
            let function = PyDict::new(py);
            function.set_item(intern!(py, "name"), grown_str(py, &mut cache.name, call.name))?;
            let arguments = grown_str(py, &mut cache.args, call.arguments);
            function.set_item(intern!(py, "arguments"), arguments)?;
            Ok(function)
        };
        let tool_calls = PyList::empty(py);
        for call in &view.tool_calls {
            let cache = call_cache(calls, max_depth, slot, call.ordinal);
            let entry = PyDict::new(py);
            entry.set_item(intern!(py, "id"), grown_str(py, &mut cache.id, call.id))?;
            entry.set_item(intern!(py, "type"), call.kind)?;
            entry.set_item(intern!(py, "function"), function_dict(call, cache)?)?;
            tool_calls.append(entry)?;
        }
        if !tool_calls.is_empty() {
            msg.set_item(intern!(py, "tool_calls"), tool_calls)?;
        }
        if let Some(call) = &view.function_call {
            let cache = call_cache(calls, max_depth, slot, call.ordinal);
            msg.set_item(intern!(py, "function_call"), function_dict(call, cache)?)?;
        }
        Ok(msg)
    }
}

/// The bytes of a read: `bytes` and `str` in place, other buffers (bytearray, memoryview) copied
/// once, since their contents may change while the lock is awaited. `feed(5)` is a TypeError,
/// not five zero bytes.
pub fn input_bytes<'a, 'py>(
    data: &'a Bound<'py, PyAny>,
    owned: &'a mut Option<Bound<'py, PyBytes>>,
    what: &str,
) -> PyResult<&'a [u8]> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(bytes.as_bytes());
    }
    if let Ok(text) = data.cast::<PyString>() {
        return str_utf8(text).map(str::as_bytes);
    }
    let py = data.py();
    let view = if data.is_instance_of::<PyByteArray>() || data.is_instance_of::<PyMemoryView>() {
        PyMemoryView::from(data)?
    } else {
        PyMemoryView::from(data).map_err(|_| {
            let kind = data
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            PyTypeError::new_err(format!("{what} takes bytes, bytearray, memoryview or str, not {kind}"))
        })?
    };
    let copied = py.get_type::<PyBytes>().call1((view,))?.cast_into::<PyBytes>()?;
    Ok(owned.insert(copied).as_bytes())
}

/// The UTF-8 of a `str`. One holding a lone surrogate (what `bytes.decode(..., "surrogateescape")`
/// makes) has none: a `ParseError` at the surrogate's UTF-8 offset, like invalid bytes.
pub fn str_utf8<'a>(text: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    text.to_str().map_err(|err| {
        let py = text.py();
        let start: usize = err
            .value(py)
            .getattr(intern!(py, "start"))
            .and_then(|s| s.extract())
            .unwrap_or(0);
        // The characters before the first surrogate are all encodable: their UTF-8 length.
        let at: usize = text.to_string_lossy().chars().take(start).map(char::len_utf8).sum();
        parse_error(
            py,
            ParseKind::InvalidUtf8,
            at as u64,
            "str holds a lone surrogate (no UTF-8 form)",
        )
    })
}

/// A limit given as a keyword: an integer from 1 to `max`, the message naming the option.
fn limit(name: &str, value: Option<&Bound<'_, PyAny>>, default: usize, max: usize) -> PyResult<usize> {
    let Some(value) = value else { return Ok(default) };
    match value.extract::<i64>().map(usize::try_from) {
        Ok(Ok(v)) if (1..=max).contains(&v) => Ok(v),
        _ if value.is_instance_of::<pyo3::types::PyInt>() && !value.is_instance_of::<pyo3::types::PyBool>() => Err(
            PyValueError::new_err(format!("{name} must be between 1 and {max}, not {value}")),
        ),
        _ => Err(PyTypeError::new_err(format!(
            "{name} must be an int or None, not {}",
            value.get_type().name()?
        ))),
    }
}

/// `max_depth` as a keyword: 1 to `MAX_DEPTH_CAP` (values are built recursively).
pub fn max_depth_option(value: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    limit(
        "max_depth",
        value,
        crate::partial_json::DEFAULT_MAX_DEPTH,
        MAX_DEPTH_CAP,
    )
}

#[pymethods]
impl PyStreamAccumulator {
    #[new]
    #[pyo3(signature = (*, format = "auto", events = true, max_line_bytes = None, max_event_bytes = None,
        max_arguments_bytes = None, max_content_bytes = None, max_tool_calls = None, max_choices = None,
        max_depth = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        format: &str,
        events: bool,
        max_line_bytes: Option<&Bound<'_, PyAny>>,
        max_event_bytes: Option<&Bound<'_, PyAny>>,
        max_arguments_bytes: Option<&Bound<'_, PyAny>>,
        max_content_bytes: Option<&Bound<'_, PyAny>>,
        max_tool_calls: Option<&Bound<'_, PyAny>>,
        max_choices: Option<&Bound<'_, PyAny>>,
        max_depth: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let adapter = adapter_for(format)?;
        let d = Limits::default();
        // Sizes fit in u32 offsets (the arguments' spans); counts stay far below that too.
        let bytes = u32::MAX as usize;
        let limits = Limits {
            max_line_bytes: limit("max_line_bytes", max_line_bytes, d.max_line_bytes, bytes)?,
            max_event_bytes: limit("max_event_bytes", max_event_bytes, d.max_event_bytes, bytes)?,
            max_arguments_bytes: limit("max_arguments_bytes", max_arguments_bytes, d.max_arguments_bytes, bytes)?,
            max_content_bytes: limit("max_content_bytes", max_content_bytes, d.max_content_bytes, bytes)?,
            max_tool_calls: limit("max_tool_calls", max_tool_calls, d.max_tool_calls, bytes)?,
            max_choices: limit("max_choices", max_choices, d.max_choices, bytes)?,
            max_depth: max_depth_option(max_depth)?,
        };
        let inner = Inner {
            core: Accumulator::with_adapter(limits, adapter),
            events,
            scratch: Vec::new(),
            calls: Vec::new(),
            usage: None,
            usage_seen: 0,
            spare: None,
        };
        Ok(Self {
            inner: Mutex::new(inner),
            holder: AtomicUsize::new(0),
        })
    }

    /// Feeds one network read (bytes, bytearray, memoryview or str); returns its events.
    #[pyo3(signature = (data, /, *, events = None))]
    fn feed<'py>(
        slf: &Bound<'py, Self>,
        data: &Bound<'py, PyAny>,
        events: Option<bool>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut owned = None;
        let bytes = input_bytes(data, &mut owned, "feed()")?;
        let mut this = slf.get().lock(slf.py())?;
        if this.core.is_finished() {
            return Err(PyRuntimeError::new_err(
                "feed() after finish(): make a new StreamAccumulator per stream",
            ));
        }
        this.take_read(slf, bytes, events)
    }

    /// End of input: flushes the last event, finishes open calls; returns the last events.
    /// Calling it again returns an empty list.
    fn finish<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        slf.get().lock(slf.py())?.run(slf, None, None)
    }

    /// The assistant message of a choice, OpenAI-shaped, ready to append to `messages`; with
    /// `native=True`, the turn in the provider's own shape, ready to send back unchanged.
    #[pyo3(signature = (choice = 0, *, native = false))]
    fn message<'py>(&self, py: Python<'py>, choice: u32, native: bool) -> PyResult<Bound<'py, PyAny>> {
        let mut this = self.lock(py)?;
        if native {
            if let Some(json) = this.core.native_message(choice) {
                // The provider's wrapping (message, content list, block) sits above the arguments.
                let max_depth = (this.core.limits().max_depth + 8).min(MAX_DEPTH_CAP);
                return Ok(build_json(py, &json, max_depth)?.unwrap_or_else(|| py.None().into_bound(py)));
            }
        }
        Ok(this.message_dict(py, choice)?.into_any())
    }

    /// How the turn ended: "stop", "tool_calls", "length", "content_filter", "error", "cut" or
    /// "other"; None while the stream is open and its end not seen.
    #[getter]
    fn outcome(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        Ok(self.lock(py)?.core.outcome().map(Outcome::as_str))
    }

    /// `{"input_tokens", "output_tokens", "total_tokens"}` from the last usage, in this format's
    /// keys; None when no usage came or it has no count.
    #[getter]
    fn token_usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(usage) = self.lock(py)?.core.token_usage() else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item(intern!(py, "input_tokens"), usage.input)?;
        dict.set_item(intern!(py, "output_tokens"), usage.output)?;
        dict.set_item(intern!(py, "total_tokens"), usage.total)?;
        Ok(Some(dict))
    }

    /// The finish reason of choice 0, as the provider sent it.
    #[getter]
    fn finish_reason(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.lock(py)?.core.choice(0).and_then(|c| c.finish_reason.clone()))
    }

    /// Finish reasons of every choice seen, by choice index.
    #[getter]
    fn finish_reasons(&self, py: Python<'_>) -> PyResult<Vec<(u32, Option<String>)>> {
        Ok(self
            .lock(py)?
            .core
            .choices()
            .iter()
            .map(|c| (c.index, c.finish_reason.clone()))
            .collect())
    }

    /// The indices of the choices seen, in the order first seen.
    #[getter]
    fn choices(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        Ok(self.lock(py)?.core.choices().iter().map(|c| c.index).collect())
    }

    /// The last usage reported (never summed), or None. Never raises: a usage Python cannot
    /// hold was reported by the `feed` that read it, and the previous one stays.
    #[getter]
    fn usage(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.lock(py)?.usage.as_ref().map(|usage| usage.get(py)).transpose()
    }

    /// True after `finish()` when the stream ended before its end (no `[DONE]`, no finish).
    #[getter]
    fn truncated(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.lock(py)?.core.truncated())
    }

    /// The wire format read: "chat", "responses", "anthropic", "gemini" or "ollama"; "auto"
    /// until `format="auto"` has recognised it.
    #[getter]
    fn format(&self, py: Python<'_>) -> PyResult<&'static str> {
        Ok(self.lock(py)?.core.format())
    }

    /// Whether the format's end marker was seen (`[DONE]`, `message_stop`, ...).
    #[getter]
    fn done(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.lock(py)?.core.done())
    }

    /// Whether `finish()` was called.
    #[getter]
    fn finished(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.lock(py)?.core.is_finished())
    }

    /// The last error object the provider sent inside the stream, or None.
    #[getter]
    fn error(&self, py: Python<'_>) -> PyResult<Option<Py<ProviderError>>> {
        let this = self.lock(py)?;
        this.core
            .error()
            .map(|e| Py::new(py, this.provider_error(py, e)))
            .transpose()
    }

    /// Tool calls of choice 0, finished and in flight, in reported order.
    #[getter]
    fn tool_calls(slf: &Bound<'_, Self>) -> PyResult<Vec<Py<ToolCall>>> {
        Self::calls_of(slf, 0)
    }

    /// Tool calls of any choice, in reported order.
    #[pyo3(signature = (choice = 0))]
    fn calls_of(slf: &Bound<'_, Self>, choice: u32) -> PyResult<Vec<Py<ToolCall>>> {
        let py = slf.py();
        let handle = slf.clone().unbind();
        let mut this = slf.get().lock(py)?;
        let Some(slot) = this.core.choices().iter().position(|c| c.index == choice) else {
            return Ok(Vec::new());
        };
        let ordinals: Vec<usize> = this.core.choices()[slot]
            .ordered_calls()
            .iter()
            .filter(|c| !c.legacy)
            .map(|c| c.ordinal)
            .collect();
        let mut out = Vec::with_capacity(ordinals.len());
        for ordinal in ordinals {
            let (id, name) = this.id_name(py, slot, ordinal);
            let call = &this.core.choices()[slot].calls[ordinal];
            let error = this.call_error(py, call)?;
            let args = call.arguments();
            let lazy = LazyArgs::new(handle.clone_ref(py), slot, ordinal, args.len());
            out.push(Py::new(
                py,
                ToolCall {
                    index: ordinal,
                    id,
                    name,
                    arguments: new_str(py, args).unbind(),
                    ready: call.ready,
                    finished: call.finished,
                    error,
                    lazy,
                },
            )?);
        }
        Ok(out)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let this = self.lock(py)?;
        let core = &this.core;
        let calls: usize = core.choices().iter().map(|c| c.calls.len()).sum();
        Ok(format!(
            "StreamAccumulator(choices={}, tool_calls={calls}, done={}, finished={})",
            core.choices().len(),
            if core.done() { "True" } else { "False" },
            if core.is_finished() { "True" } else { "False" },
        ))
    }
}
