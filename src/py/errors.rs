//! The one place where core errors become Python exceptions.
//!
//! `ParseError` must be both a `ToolwireError` and a `ValueError`; `create_exception!` takes one
//! base, so the two subclasses are made with `type(...)` at module init and kept here.

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use crate::error::{CoreError, ParseKind};
use crate::partial_json::JsonError;

pyo3::create_exception!(
    toolwire,
    ToolwireError,
    PyException,
    "Base class of every error toolwire raises."
);

static PARSE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static LIMIT_EXCEEDED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn subclass<'py>(py: Python<'py>, name: &str, bases: &Bound<'py, PyTuple>, doc: &str) -> PyResult<Bound<'py, PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "toolwire")?;
    ns.set_item("__doc__", doc)?;
    let ty = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(ty.cast_into::<PyType>()?)
}

/// Creates the exception classes and adds them to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<ToolwireError>();
    let parse = subclass(
        py,
        "ParseError",
        &PyTuple::new(py, [base.clone(), py.get_type::<PyValueError>()])?,
        "Input that cannot be read: invalid UTF-8, a chunk that is not JSON, malformed JSON.\n\n\
         Attributes: ``kind`` (str), ``position`` (byte offset), ``events`` (events the failing read produced).",
    )?;
    let limit = subclass(
        py,
        "LimitExceeded",
        &PyTuple::new(py, [base.clone()])?,
        "A configured limit was exceeded; the offending input was dropped, the rest kept.\n\n\
         Attributes: ``limit`` (option name), ``value`` (its value), ``position``, ``events``.",
    )?;
    m.add("ToolwireError", base)?;
    m.add("ParseError", &parse)?;
    m.add("LimitExceeded", &limit)?;
    let _ = PARSE_ERROR.set(py, parse.unbind());
    let _ = LIMIT_EXCEEDED.set(py, limit.unbind());
    Ok(())
}

fn class<'py>(py: Python<'py>, cell: &PyOnceLock<Py<PyType>>) -> Bound<'py, PyType> {
    cell.get(py)
        .map_or_else(|| py.get_type::<ToolwireError>(), |t| t.bind(py).clone())
}

/// A `ParseError` instance (not raised), for `ToolCallFinished.error`.
pub fn parse_error_instance<'py>(
    py: Python<'py>,
    kind: ParseKind,
    position: u64,
    message: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let err = class(py, &PARSE_ERROR).call1((format!("{message} at byte {position}"),))?;
    err.setattr("kind", kind.as_str())?;
    err.setattr("position", position)?;
    err.setattr("events", PyList::empty(py))?;
    Ok(err)
}

/// A `ParseError` to raise.
pub fn parse_error(py: Python<'_>, kind: ParseKind, position: u64, message: &str) -> PyErr {
    match parse_error_instance(py, kind, position, message) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// A `LimitExceeded` instance (not raised).
fn limit_instance<'py>(
    py: Python<'py>,
    limit: &'static str,
    value: usize,
    position: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let exc = class(py, &LIMIT_EXCEEDED).call1((CoreError::limit(limit, value, position).to_string(),))?;
    exc.setattr("limit", limit)?;
    exc.setattr("value", value)?;
    exc.setattr("position", position)?;
    exc.setattr("events", PyList::empty(py))?;
    Ok(exc)
}

/// Why a finished call's arguments are not usable, for `ToolCallFinished.error`: a `ParseError`
/// (incomplete, malformed), or `LimitExceeded` when they nest deeper than `max_depth`.
pub fn call_error_instance<'py>(py: Python<'py>, err: &JsonError, max_depth: usize) -> PyResult<Bound<'py, PyAny>> {
    match err.kind {
        ParseKind::TooDeep => limit_instance(py, "max_depth", max_depth, err.position as u64),
        kind => parse_error_instance(py, kind, err.position as u64, err.message),
    }
}

/// The exception for a core error, carrying the events the failing read produced.
pub fn core_error(py: Python<'_>, err: &CoreError, events: Option<&Bound<'_, PyList>>) -> PyErr {
    let built = (|| -> PyResult<Bound<'_, PyAny>> {
        let exc = match err {
            CoreError::Parse {
                kind,
                position,
                message,
            } => parse_error_instance(py, *kind, *position, message)?,
            CoreError::Limit { limit, value, position } => limit_instance(py, limit, *value, *position)?,
        };
        exc.setattr("events", events.map_or_else(|| PyList::empty(py), Clone::clone))?;
        Ok(exc)
    })();
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The exception for a JSON text that is malformed, not UTF-8, or nested past `max_depth`.
pub fn json_error(py: Python<'_>, err: &JsonError, max_depth: usize) -> PyErr {
    match call_error_instance(py, err, max_depth) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}
