//! `toolwire.StreamAccumulator`: the core accumulator behind one Python call per network read.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pyo3::intern;

use super::errors::{core_error, parse_error_instance};
use super::events::{
    Finish, LazyArgs, ProviderError, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta, ToolCallFinished, ToolCallReady,
    ToolCallStarted, Usage,
};
use super::value::{build_prefix_value, build_value, ValueCache};
use crate::accumulate::{Accumulator, Call, Event, NoEvents};
use crate::limits::Limits;
use crate::partial_json::Scan;

/// Per call: Python strings of its id and name (remade only when the Rust value changes), and
/// the scan that `.partial` values are built from. That scan lags behind the core's: it
/// advances only as far as the value asked for, so the values of all fragments of one read,
/// asked for in order, cost O(fragment) each instead of a re-parse of the prefix.
#[derive(Default)]
struct CallCache {
    id: Option<(String, Py<PyString>)>,
    name: Option<(String, Py<PyString>)>,
    scan: Scan,
    value: ValueCache,
}

fn cached_str(py: Python<'_>, slot: &mut Option<(String, Py<PyString>)>, value: &str) -> Py<PyString> {
    match slot {
        Some((rust, obj)) if rust == value => obj.clone_ref(py),
        _ => {
            let obj = PyString::new(py, value).unbind();
            *slot = Some((value.to_owned(), obj.clone_ref(py)));
            obj
        }
    }
}

fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let loads = LOADS.get_or_try_init(py, || py.import("json")?.getattr("loads").map(Bound::unbind))?;
    loads.bind(py).call1((text,))
}

/// The format option; only Chat Completions streams are read so far.
fn check_format(format: &str) -> PyResult<()> {
    match format {
        "auto" | "chat" => Ok(()),
        "responses" | "anthropic" => Err(PyValueError::new_err(format!(
            "format {format:?} is not supported yet; use \"chat\" (OpenAI-compatible Chat Completions)"
        ))),
        _ => Err(PyValueError::new_err(format!(
            "format must be \"auto\", \"chat\", \"responses\" or \"anthropic\", not {format:?}"
        ))),
    }
}

/// Accumulates one streamed response: feed it the raw bytes of each network read.
///
/// One accumulator per stream; it is not meant to be shared across threads (concurrent use
/// raises ``RuntimeError: Already borrowed``).
#[pyclass(module = "toolwire", name = "StreamAccumulator")]
pub struct PyStreamAccumulator {
    core: Accumulator,
    events: bool,
    scratch: Vec<Event>,
    calls: Vec<Vec<CallCache>>,
    usage: Option<(String, Py<PyAny>)>,
}

fn call_cache(caches: &mut Vec<Vec<CallCache>>, slot: usize, call: usize) -> &mut CallCache {
    if caches.len() <= slot {
        caches.resize_with(slot + 1, Vec::new);
    }
    let calls = &mut caches[slot];
    if calls.len() <= call {
        calls.resize_with(call + 1, CallCache::default);
    }
    &mut calls[call]
}

impl PyStreamAccumulator {

    fn slot_of(&self, choice: u32) -> usize {
        self.core.choices().iter().position(|c| c.index == choice).unwrap_or(0)
    }

    fn id_name(&mut self, py: Python<'_>, slot: usize, ordinal: usize) -> (Py<PyString>, Py<PyString>) {
        // Disjoint borrows: the strings stay in the core, the cache beside it (no copy per event).
        let Self { core, calls, .. } = self;
        let call: &Call = &core.choices()[slot].calls[ordinal];
        let cache = call_cache(calls, slot, ordinal);
        (cached_str(py, &mut cache.id, &call.id), cached_str(py, &mut cache.name, &call.name))
    }

    /// The Python value of a call's arguments as they were at `len` bytes.
    pub fn args_value(&mut self, py: Python<'_>, slot: usize, ordinal: usize, len: usize) -> PyResult<Py<PyAny>> {
        let Self { core, calls, .. } = self;
        let Some(call) = core.choices().get(slot).and_then(|c| c.calls.get(ordinal)) else {
            return Ok(py.None());
        };
        let text = call.args.text();
        let cache = call_cache(calls, slot, ordinal);
        if len < cache.scan.pos() || len > text.len() {
            // Asked out of order (an older event after a newer one): parse that prefix alone.
            let prefix = text.get(..len).unwrap_or("");
            return Ok(build_prefix_value(py, prefix)?.map_or_else(|| py.None(), Bound::unbind));
        }
        // A malformed text keeps its error in the scan; the value shows what came before it.
        let _ = cache.scan.advance(text, len);
        Ok(build_value(py, text, &cache.scan, &mut cache.value, true)?.map_or_else(|| py.None(), Bound::unbind))
    }

    fn call_error(py: Python<'_>, call: &Call) -> PyResult<Option<Py<PyAny>>> {
        match &call.outcome {
            Some(Err(err)) => Ok(Some(parse_error_instance(py, err.kind, err.position as u64, err.message)?.unbind())),
            _ => Ok(None),
        }
    }

    fn usage_dict(&mut self, py: Python<'_>, raw: &str) -> PyResult<Py<PyAny>> {
        if let Some((cached_raw, obj)) = &self.usage {
            if cached_raw == raw {
                return Ok(obj.clone_ref(py));
            }
        }
        let obj = json_loads(py, raw)?.unbind();
        self.usage = Some((raw.to_owned(), obj.clone_ref(py)));
        Ok(obj)
    }

    fn provider_error(py: Python<'_>, err: &crate::accumulate::ProviderError) -> PyResult<ProviderError> {
        let code = match &err.code {
            Some(raw) => json_loads(py, raw)?.unbind(),
            None => py.None(),
        };
        let body = json_loads(py, &err.body).map_or_else(|_| PyString::new(py, &err.body).into_any().unbind(), Bound::unbind);
        Ok(ProviderError {
            message: PyString::new(py, &err.message).unbind(),
            code,
            kind: err.kind.as_deref().map_or_else(|| py.None(), |k| PyString::new(py, k).into_any().unbind()),
            body,
        })
    }

    fn convert(&mut self, slf: &Py<Self>, py: Python<'_>, events: &[Event], out: &Bound<'_, PyList>) -> PyResult<()> {
        for event in events {
            let obj: Py<PyAny> = match event {
                Event::Text { choice, range } => {
                    let slot = self.slot_of(*choice);
                    let text = PyString::new(py, &self.core.choices()[slot].content[range.clone()]).unbind();
                    Py::new(py, TextDelta { text, choice: *choice })?.into_any()
                }
                Event::Reasoning { choice, range } => {
                    let slot = self.slot_of(*choice);
                    let text = PyString::new(py, &self.core.choices()[slot].reasoning[range.clone()]).unbind();
                    Py::new(py, ReasoningDelta { text, choice: *choice })?.into_any()
                }
                Event::CallStarted { choice, call } => {
                    let slot = self.slot_of(*choice);
                    let (id, name) = self.id_name(py, slot, *call);
                    Py::new(py, ToolCallStarted { index: *call, id, name, choice: *choice })?.into_any()
                }
                Event::CallDelta { choice, call, range } => {
                    let slot = self.slot_of(*choice);
                    let (id, name) = self.id_name(py, slot, *call);
                    let fragment = PyString::new(py, &self.core.choices()[slot].calls[*call].arguments()[range.clone()]).unbind();
                    let lazy = LazyArgs::new(slf.clone_ref(py), slot, *call, range.end);
                    Py::new(py, ToolCallDelta { index: *call, id, name, fragment, choice: *choice, lazy })?.into_any()
                }
                Event::CallReady { choice, call, len } => {
                    let slot = self.slot_of(*choice);
                    let (id, name) = self.id_name(py, slot, *call);
                    let args = &self.core.choices()[slot].calls[*call].arguments()[..*len];
                    let lazy = LazyArgs::new(slf.clone_ref(py), slot, *call, *len);
                    let arguments = PyString::new(py, args).unbind();
                    Py::new(py, ToolCallReady { index: *call, id, name, arguments, choice: *choice, lazy })?.into_any()
                }
                Event::CallFinished { choice, call } => {
                    let slot = self.slot_of(*choice);
                    let (id, name) = self.id_name(py, slot, *call);
                    let core_call = &self.core.choices()[slot].calls[*call];
                    let error = Self::call_error(py, core_call)?;
                    let args = core_call.arguments();
                    let lazy = LazyArgs::new(slf.clone_ref(py), slot, *call, args.len());
                    let arguments = PyString::new(py, args).unbind();
                    Py::new(py, ToolCallFinished { index: *call, id, name, arguments, choice: *choice, error, lazy })?.into_any()
                }
                Event::Usage(raw) => {
                    let usage = self.usage_dict(py, raw)?;
                    Py::new(py, Usage { usage })?.into_any()
                }
                Event::Finish { choice } => {
                    let slot = self.slot_of(*choice);
                    let reason = self.core.choices()[slot].finish_reason.as_deref().unwrap_or("");
                    Py::new(py, Finish { reason: PyString::new(py, reason).unbind(), choice: *choice })?.into_any()
                }
                Event::ProviderError(err) => Py::new(py, Self::provider_error(py, err)?)?.into_any(),
            };
            out.append(obj)?;
        }
        Ok(())
    }

    fn run<'py>(slf: &Bound<'py, Self>, data: Option<&[u8]>, events: Option<bool>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let handle = slf.clone().unbind();
        let mut this = slf.try_borrow_mut()?;
        let want_events = events.unwrap_or(this.events);
        let mut scratch = std::mem::take(&mut this.scratch);
        scratch.clear();
        let result = match (data, want_events) {
            (Some(bytes), true) => this.core.feed(bytes, &mut scratch),
            (Some(bytes), false) => this.core.feed(bytes, &mut NoEvents),
            (None, true) => this.core.finish(&mut scratch),
            (None, false) => this.core.finish(&mut NoEvents),
        };
        let out = PyList::empty(py);
        let converted = this.convert(&handle, py, &scratch, &out);
        scratch.clear();
        this.scratch = scratch;
        converted?;
        match result {
            Ok(()) => Ok(out),
            Err(err) => Err(core_error(py, &err, Some(&out))),
        }
    }

    fn message_dict<'py>(&mut self, py: Python<'py>, choice: u32) -> PyResult<Bound<'py, PyDict>> {
        let msg = PyDict::new(py);
        msg.set_item(intern!(py, "role"), intern!(py, "assistant"))?;
        let Some(slot) = self.core.choices().iter().position(|c| c.index == choice) else {
            msg.set_item(intern!(py, "content"), py.None())?;
            return Ok(msg);
        };
        let state = &self.core.choices()[slot];
        if state.content.is_empty() {
            msg.set_item(intern!(py, "content"), py.None())?;
        } else {
            msg.set_item(intern!(py, "content"), &state.content)?;
        }
        if !state.reasoning.is_empty() {
            msg.set_item(intern!(py, "reasoning_content"), &state.reasoning)?;
        }
        if !state.refusal.is_empty() {
            msg.set_item(intern!(py, "refusal"), &state.refusal)?;
        }
        let ordinals: Vec<(usize, bool)> = state.ordered_calls().iter().map(|c| (c.ordinal, c.legacy)).collect();
        let calls = PyList::empty(py);
        for (ordinal, legacy) in ordinals {
            let (id, name) = self.id_name(py, slot, ordinal);
            let core_call = &self.core.choices()[slot].calls[ordinal];
            let function = PyDict::new(py);
            function.set_item(intern!(py, "name"), name)?;
            function.set_item(intern!(py, "arguments"), core_call.arguments())?;
            if legacy {
                msg.set_item(intern!(py, "function_call"), function)?;
                continue;
            }
            let entry = PyDict::new(py);
            entry.set_item(intern!(py, "id"), id)?;
            entry.set_item(intern!(py, "type"), if core_call.kind.is_empty() { "function" } else { &core_call.kind })?;
            entry.set_item(intern!(py, "function"), function)?;
            calls.append(entry)?;
        }
        if !calls.is_empty() {
            msg.set_item(intern!(py, "tool_calls"), calls)?;
        }
        Ok(msg)
    }
}

fn input_bytes<'a, 'py>(data: &'a Bound<'py, PyAny>, owned: &'a mut Option<Bound<'py, PyBytes>>) -> PyResult<&'a [u8]> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(bytes.as_bytes());
    }
    if let Ok(text) = data.cast::<PyString>() {
        return Ok(text.to_str()?.as_bytes());
    }
    // bytearray, memoryview and other buffers: one copy through `bytes(...)`.
    let copied = data.py().get_type::<PyBytes>().call1((data,))?.cast_into::<PyBytes>()?;
    Ok(owned.insert(copied).as_bytes())
}

#[pymethods]
impl PyStreamAccumulator {
    #[new]
    #[pyo3(signature = (*, format = "auto", events = true, max_line_bytes = None, max_event_bytes = None,
        max_arguments_bytes = None, max_tool_calls = None, max_choices = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        format: &str,
        events: bool,
        max_line_bytes: Option<usize>,
        max_event_bytes: Option<usize>,
        max_arguments_bytes: Option<usize>,
        max_tool_calls: Option<usize>,
        max_choices: Option<usize>,
    ) -> PyResult<Self> {
        check_format(format)?;
        let d = Limits::default();
        let limits = Limits {
            max_line_bytes: max_line_bytes.unwrap_or(d.max_line_bytes),
            max_event_bytes: max_event_bytes.unwrap_or(d.max_event_bytes),
            max_arguments_bytes: max_arguments_bytes.unwrap_or(d.max_arguments_bytes),
            max_tool_calls: max_tool_calls.unwrap_or(d.max_tool_calls),
            max_choices: max_choices.unwrap_or(d.max_choices),
        };
        Ok(Self { core: Accumulator::new(limits), events, scratch: Vec::new(), calls: Vec::new(), usage: None })
    }

    /// Feeds one network read (bytes, bytearray, memoryview or str); returns its events.
    #[pyo3(signature = (data, /, *, events = None))]
    fn feed<'py>(slf: &Bound<'py, Self>, data: &Bound<'py, PyAny>, events: Option<bool>) -> PyResult<Bound<'py, PyList>> {
        if slf.try_borrow()?.core.is_finished() {
            return Err(PyRuntimeError::new_err("feed() after finish(): make a new StreamAccumulator per stream"));
        }
        let mut owned = None;
        let bytes = input_bytes(data, &mut owned)?;
        Self::run(slf, Some(bytes), events)
    }

    /// End of input: flushes the last event, finishes open calls; returns the last events.
    /// Calling it again returns an empty list.
    fn finish<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        Self::run(slf, None, None)
    }

    /// The assistant message of a choice, OpenAI-shaped, ready to append to `messages`.
    #[pyo3(signature = (choice = 0))]
    fn message<'py>(&mut self, py: Python<'py>, choice: u32) -> PyResult<Bound<'py, PyDict>> {
        self.message_dict(py, choice)
    }

    /// The finish reason of choice 0, as the provider sent it.
    #[getter]
    fn finish_reason(&self) -> Option<String> {
        self.core.choice(0).and_then(|c| c.finish_reason.clone())
    }

    /// Finish reasons of every choice seen, by choice index.
    #[getter]
    fn finish_reasons(&self) -> Vec<(u32, Option<String>)> {
        self.core.choices().iter().map(|c| (c.index, c.finish_reason.clone())).collect()
    }

    /// The indices of the choices seen, in the order first seen.
    #[getter]
    fn choices(&self) -> Vec<u32> {
        self.core.choices().iter().map(|c| c.index).collect()
    }

    /// The last usage reported (never summed), or None.
    #[getter]
    fn usage(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.core.usage().map(str::to_owned) {
            Some(raw) => Ok(Some(self.usage_dict(py, &raw)?)),
            None => Ok(None),
        }
    }

    /// True after `finish()` when the stream ended before its end (no `[DONE]`, no finish).
    #[getter]
    fn truncated(&self) -> bool {
        self.core.truncated()
    }

    /// Whether `data: [DONE]` was seen.
    #[getter]
    fn done(&self) -> bool {
        self.core.done()
    }

    /// Whether `finish()` was called.
    #[getter]
    fn finished(&self) -> bool {
        self.core.is_finished()
    }

    /// The last error object the provider sent inside the stream, or None.
    #[getter]
    fn error(&self, py: Python<'_>) -> PyResult<Option<Py<ProviderError>>> {
        self.core.error().map(|e| Py::new(py, Self::provider_error(py, e)?)).transpose()
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
        let mut this = slf.try_borrow_mut()?;
        let Some(slot) = this.core.choices().iter().position(|c| c.index == choice) else {
            return Ok(Vec::new());
        };
        let ordinals: Vec<usize> = this.core.choices()[slot].ordered_calls().iter().filter(|c| !c.legacy).map(|c| c.ordinal).collect();
        let mut out = Vec::with_capacity(ordinals.len());
        for ordinal in ordinals {
            let (id, name) = this.id_name(py, slot, ordinal);
            let call = &this.core.choices()[slot].calls[ordinal];
            let error = Self::call_error(py, call)?;
            let args = call.arguments();
            let lazy = LazyArgs::new(handle.clone_ref(py), slot, ordinal, args.len());
            out.push(Py::new(
                py,
                ToolCall {
                    index: ordinal,
                    id,
                    name,
                    arguments: PyString::new(py, args).unbind(),
                    ready: call.ready,
                    finished: call.finished,
                    error,
                    lazy,
                },
            )?);
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let calls: usize = self.core.choices().iter().map(|c| c.calls.len()).sum();
        format!(
            "StreamAccumulator(choices={}, tool_calls={calls}, done={}, finished={})",
            self.core.choices().len(),
            if self.core.done() { "True" } else { "False" },
            if self.core.is_finished() { "True" } else { "False" },
        )
    }
}
