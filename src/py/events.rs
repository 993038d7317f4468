//! Event classes: frozen values with a repr that leaves out empty fields, and equality.
//!
//! `ToolCallDelta.partial` and `.parsed` are built on first access, never while feeding, from
//! a scan of the call's arguments that the binding keeps apart from the core's (see
//! `accumulator.rs` and `value.rs`). Events may be read on any thread: they take the
//! accumulator's lock for the moment of the build.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};

use super::accumulator::PyStreamAccumulator;
use super::fast_class::{FastClass, Layout, Release};
use super::value::build_json;

/// A field is "empty" for the repr when it is None, "" or the default choice 0.
fn repr_fields(py: Python<'_>, name: &str, fields: &[(&str, &Py<PyAny>)]) -> PyResult<String> {
    let mut out = String::from(name);
    out.push('(');
    let mut first = true;
    for (key, value) in fields {
        let value = value.bind(py);
        let skip = value.is_none()
            || (*key == "choice" && value.extract::<u32>().is_ok_and(|c| c == 0))
            || value
                .cast::<PyString>()
                .is_ok_and(|s| s.to_str().is_ok_and(str::is_empty));
        if skip {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(key);
        out.push('=');
        out.push_str(&value.repr()?.to_string());
    }
    out.push(')');
    Ok(out)
}

/// The value of a call's arguments as they were when the event was made, built on access.
///
/// Not cached in the event on purpose: a value the event held would count as "kept by the
/// caller" and force a copy of the open containers on every later read (see `value.rs`).
pub struct LazyArgs {
    acc: Py<PyStreamAccumulator>,
    slot: usize,
    call: usize,
    len: usize,
}

impl LazyArgs {
    pub fn new(acc: Py<PyStreamAccumulator>, slot: usize, call: usize, len: usize) -> Self {
        Self { acc, slot, call, len }
    }

    pub fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.acc
            .bind(py)
            .get()
            .lock(py)?
            .args_value(py, self.slot, self.call, self.len)
    }

    /// The arguments' text from byte `start` to where this value stops.
    fn text_from<'py>(&self, py: Python<'py>, start: usize) -> PyResult<Bound<'py, PyString>> {
        self.acc
            .bind(py)
            .get()
            .lock(py)?
            .args_slice(py, self.slot, self.call, start..self.len)
    }
}

impl Release for LazyArgs {
    fn release(self, py: Python<'_>) {
        self.acc.release(py);
    }
}

/// A fragment of a call's arguments: the bytes `start..` of the text `args` sees, sliced from
/// the accumulator's text when read. Most events are never asked for it (a chat UI shows text
/// and calls, not each fragment); one made at once cost a string and its release per event.
/// The text it slices only grows, so the slice never changes.
pub struct Fragment {
    pub args: LazyArgs,
    pub start: usize,
}

impl Fragment {
    fn get<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.args.text_from(py, self.start)
    }
}

impl Release for Fragment {
    fn release(self, py: Python<'_>) {
        self.args.release(py);
    }
}

impl<'py> IntoPyObject<'py> for &Fragment {
    type Target = PyString;
    type Output = Bound<'py, PyString>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.get(py)
    }
}

/// JSON text under this many bytes always builds: no integer in it can reach the fewest
/// digits `sys.set_int_max_str_digits` may forbid (640), and the core checked its nesting.
const LAZY_JSON_BYTES: usize = 640;

/// A JSON value (a usage object) built on first access from its text, then kept; or built at
/// once, when building could fail and the failure must be reported by the read.
pub struct LazyJson {
    raw: Box<str>,
    max_depth: usize,
    value: PyOnceLock<Py<PyAny>>,
}

impl LazyJson {
    /// The value of `raw` (a valid JSON text nested at most `max_depth` deep): built when asked
    /// for if under `LAZY_JSON_BYTES`, else built now. `Ok(None)` when it is not one value, the
    /// error when Python cannot hold a number of it.
    pub fn of(py: Python<'_>, raw: &str, max_depth: usize) -> PyResult<Option<Self>> {
        if raw.len() < LAZY_JSON_BYTES {
            return Ok(Some(Self {
                raw: raw.into(),
                max_depth,
                value: PyOnceLock::new(),
            }));
        }
        let Some(value) = build_json(py, raw, max_depth)? else {
            return Ok(None);
        };
        let cell = PyOnceLock::new();
        let _ = cell.set(py, value.unbind());
        Ok(Some(Self {
            raw: Box::default(),
            max_depth: 0,
            value: cell,
        }))
    }

    pub fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.value
            .get_or_try_init(py, || {
                Ok(build_json(py, &self.raw, self.max_depth)?.map_or_else(|| py.None(), Bound::unbind))
            })
            .map(|value| value.clone_ref(py))
    }
}

macro_rules! event_class {
    (
        $(#[$doc:meta])*
        $rust:ident as $name:literal { $($field:ident $(as $pyname:literal)? : $ty:ty),* $(,)? }
        $(lazy $lazy:ident)? $(methods { $($extra:tt)* })?
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "toolwire", name = $name)]
        pub struct $rust {
            $(#[pyo3(get $(, name = $pyname)?)] pub $field: $ty,)*
            $(pub $lazy: LazyArgs,)?
        }

        impl Release for $rust {
            fn release(self, py: Python<'_>) {
                $(self.$field.release(py);)*
                $(self.$lazy.release(py);)?
            }
        }

        impl FastClass for $rust {
            fn layout() -> &'static Layout {
                static LAYOUT: Layout = Layout::new();
                &LAYOUT
            }
        }

        impl $rust {
            fn fields(&self, py: Python<'_>) -> Vec<(&'static str, Py<PyAny>)> {
                vec![$((event_class!(@name $field $($pyname)?), self.$field.clone_ref_any(py))),*]
            }
        }

        #[pymethods]
        impl $rust {
            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let fields = self.fields(py);
                let refs: Vec<(&str, &Py<PyAny>)> = fields.iter().map(|(k, v)| (*k, v)).collect();
                repr_fields(py, $name, &refs)
            }

            fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
                let Ok(other) = other.cast::<$rust>() else { return Ok(false) };
                let mine = PyTuple::new(py, self.fields(py).into_iter().map(|(_, v)| v))?;
                let theirs = PyTuple::new(py, other.get().fields(py).into_iter().map(|(_, v)| v))?;
                mine.eq(theirs)
            }

            #[classattr]
            fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
                PyTuple::new(py, [$(event_class!(@name $field $($pyname)?)),*]).map(Bound::unbind)
            }

            $($($extra)*)?
        }
    };
    (@name $field:ident $pyname:literal) => { $pyname };
    (@name $field:ident) => { stringify!($field) };
}

/// Cloning a field into a `Py<PyAny>` for repr/eq, whatever its Rust type.
pub trait CloneRefAny {
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny>;
}

impl<T> CloneRefAny for Py<T> {
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny> {
        self.clone_ref(py).into_any()
    }
}

impl<T> CloneRefAny for Option<Py<T>> {
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny> {
        self.as_ref().map_or_else(|| py.None(), |v| v.clone_ref(py).into_any())
    }
}

impl CloneRefAny for u32 {
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny> {
        self.into_pyobject(py)
            .map_or_else(|_| py.None(), |v| v.into_any().unbind())
    }
}

impl CloneRefAny for &'static str {
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny> {
        pyo3::types::PyString::intern(py, self).into_any().unbind()
    }
}

impl CloneRefAny for Fragment {
    /// For repr and equality: a fragment that cannot be read now (its accumulator is in use
    /// on this thread) shows as None.
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny> {
        self.get(py).map_or_else(|_| py.None(), |s| s.into_any().unbind())
    }
}

impl CloneRefAny for usize {
    fn clone_ref_any(&self, py: Python<'_>) -> Py<PyAny> {
        self.into_pyobject(py)
            .map_or_else(|_| py.None(), |v| v.into_any().unbind())
    }
}

event_class! {
    /// Assistant text that just arrived.
    TextDelta as "TextDelta" { text: Py<PyString>, choice: u32 }
}

event_class! {
    /// Reasoning text (`reasoning_content`, DeepSeek and others) that just arrived.
    ReasoningDelta as "ReasoningDelta" { text: Py<PyString>, choice: u32 }
}

event_class! {
    /// A new tool call appeared. `index` is its position in creation order within the choice.
    ToolCallStarted as "ToolCallStarted" { index: usize, id: Py<PyString>, name: Py<PyString>, choice: u32 }
}

event_class! {
    /// A fragment of a call's arguments (the provider's fragments of one read, joined).
    /// `.partial` is the value the arguments prove so far.
    ToolCallDelta as "ToolCallDelta" { index: usize, id: Py<PyString>, name: Py<PyString>, fragment: Fragment, choice: u32 }
    methods {
        /// The value the arguments proved right after this fragment (built on first access).
        #[getter]
        fn partial(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            self.fragment.args.get(py)
        }
    }
}

event_class! {
    /// A call's arguments just closed as one complete JSON value (the call is not finished yet).
    ToolCallReady as "ToolCallReady" { index: usize, id: Py<PyString>, name: Py<PyString>, arguments: Py<PyString>, choice: u32 }
    lazy lazy methods {
        /// The parsed arguments (built on first access).
        #[getter]
        fn parsed(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            self.lazy.get(py)
        }
    }
}

event_class! {
    /// The provider ended the call. `.parsed` is the arguments' value, or None with `.error`
    /// (a `ParseError` whose `kind` is "incomplete" or "malformed").
    ToolCallFinished as "ToolCallFinished" { index: usize, id: Py<PyString>, name: Py<PyString>, arguments: Py<PyString>, choice: u32, error: Option<Py<PyAny>> }
    lazy lazy methods {
        /// The parsed arguments, or None when `.error` is set (built on first access).
        #[getter]
        fn parsed(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            if self.error.is_some() {
                return Ok(py.None());
            }
            self.lazy.get(py)
        }
    }
}

/// Token usage reported by the provider (the last report wins in `acc.usage`). The value is
/// built on first access.
#[pyclass(frozen, freelist = 64, module = "toolwire", name = "Usage")]
pub struct Usage {
    pub usage: LazyJson,
}

#[pymethods]
impl Usage {
    #[getter]
    fn usage(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.usage.get(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(py, "Usage", &[("usage", &self.usage.get(py)?)])
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<Usage>() else {
            return Ok(false);
        };
        self.usage.get(py)?.bind(py).eq(other.get().usage.get(py)?)
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        PyTuple::new(py, ["usage"]).map(Bound::unbind)
    }
}

event_class! {
    /// The choice ended, with the finish reason exactly as the provider sent it; `outcome` is
    /// what that reason means in the words of `StreamAccumulator.outcome`, were the stream to
    /// end well now ("stop", "tool_calls", "length", "content_filter" or "other").
    Finish as "Finish" { reason: Py<PyString>, choice: u32, outcome: &'static str }
}

event_class! {
    /// An error object the provider sent inside the stream.
    ProviderError as "ProviderError" { message: Py<PyString>, code: Py<PyAny>, kind as "type": Py<PyAny>, body: Py<PyAny> }
}

/// A snapshot of one tool call, as listed by `StreamAccumulator.tool_calls`.
#[pyclass(frozen, module = "toolwire", name = "ToolCall")]
pub struct ToolCall {
    #[pyo3(get)]
    pub index: usize,
    #[pyo3(get)]
    pub id: Py<PyString>,
    #[pyo3(get)]
    pub name: Py<PyString>,
    #[pyo3(get)]
    pub arguments: Py<PyString>,
    /// Whether the arguments closed as a complete JSON value.
    #[pyo3(get)]
    pub ready: bool,
    /// Whether the provider ended the call.
    #[pyo3(get)]
    pub finished: bool,
    #[pyo3(get)]
    pub error: Option<Py<PyAny>>,
    pub lazy: LazyArgs,
}

#[pymethods]
impl ToolCall {
    /// The value the arguments prove so far.
    #[getter]
    fn partial(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.lazy.get(py)
    }

    /// The parsed arguments once the call is finished without error, else None.
    #[getter]
    fn parsed(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if !self.finished || self.error.is_some() {
            return Ok(py.None());
        }
        self.lazy.get(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ToolCall(index={}, id={}, name={}, arguments={}, ready={}, finished={})",
            self.index,
            self.id.bind(py).repr()?,
            self.name.bind(py).repr()?,
            self.arguments.bind(py).repr()?,
            if self.ready { "True" } else { "False" },
            if self.finished { "True" } else { "False" },
        ))
    }
}
