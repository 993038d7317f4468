//! `toolwire.PartialJSON` and `toolwire.parse_partial`.

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::accumulator::{input_bytes, max_depth_option, str_utf8};
use super::errors::json_error;
use super::value::{build_value, ValueCache};
use crate::partial_json::PartialJson;

fn feed_any(parser: &mut PartialJson, data: &Bound<'_, PyAny>, what: &str) -> PyResult<()> {
    let result = if let Ok(text) = data.cast::<PyString>() {
        parser.feed(str_utf8(text)?)
    } else {
        let mut owned = None;
        parser.feed_bytes(input_bytes(data, &mut owned, what)?)
    };
    result.map_err(|err| json_error(data.py(), &err, parser.scan().max_depth()))
}

/// An incremental JSON parser: `feed` fragments, read `value()` at any time.
///
/// `feed` costs O(len(fragment)) whatever came before; `value()` rebuilds only the open path.
/// Malformed input raises `ParseError` (a `ValueError`) with `.position`; nesting deeper than
/// `max_depth` raises `LimitExceeded`. What was parsed before the fault stays readable through
/// `value()`.
#[pyclass(module = "toolwire", name = "PartialJSON")]
pub struct PyPartialJson {
    parser: PartialJson,
    cache: ValueCache,
    partial_strings: bool,
}

impl PyPartialJson {
    /// `feed(data)` for a `str` fragment (`fast_feed`): `None` (the result, a new reference)
    /// when fed, NULL with the `ParseError` set when it made the text malformed; `None` with
    /// nothing done for any other argument or when the parser is in use, and pyo3's `feed`
    /// takes the call.
    #[cfg(not(any(Py_LIMITED_API, PyPy)))] // used by fast_feed only
    pub(super) fn feed_str(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> Option<*mut pyo3::ffi::PyObject> {
        let py = slf.py();
        let text = data.cast::<PyString>().ok()?.to_str().ok()?;
        let mut this = slf.try_borrow_mut().ok()?;
        match this.parser.feed(text) {
            Ok(()) => Some(py.None().into_ptr()),
            Err(err) => {
                json_error(py, &err, this.parser.scan().max_depth()).restore(py);
                Some(std::ptr::null_mut())
            }
        }
    }
}

#[pymethods]
impl PyPartialJson {
    #[new]
    #[pyo3(signature = (*, partial_strings = true, max_depth = None))]
    fn new(partial_strings: bool, max_depth: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let parser = PartialJson::new().with_max_depth(max_depth_option(max_depth)?);
        Ok(Self {
            parser,
            cache: ValueCache::default(),
            partial_strings,
        })
    }

    /// Feeds a fragment (str or bytes; a UTF-8 sequence split across byte feeds waits).
    #[pyo3(signature = (data, /))]
    fn feed(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        feed_any(&mut self.parser, data, "PartialJSON.feed()")
    }

    /// The value the text so far proves; None when nothing shows yet.
    fn value(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Ok(build_value(
            py,
            self.parser.text(),
            self.parser.scan(),
            &mut self.cache,
            self.partial_strings,
        )?
        .map(Bound::unbind))
    }

    /// Whether the text is one complete JSON value (whitespace may follow).
    #[getter]
    fn complete(&self) -> bool {
        self.parser.is_complete()
    }

    /// All text fed so far.
    #[getter]
    fn text(&self) -> &str {
        self.parser.text()
    }

    fn __repr__(&self) -> String {
        format!(
            "PartialJSON(len={}, complete={})",
            self.parser.text().len(),
            if self.parser.is_complete() { "True" } else { "False" }
        )
    }
}

/// The value a JSON prefix proves, in one call (see `PartialJSON`).
#[pyfunction]
#[pyo3(signature = (text, /, *, partial_strings = true, max_depth = None))]
pub fn parse_partial(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    partial_strings: bool,
    max_depth: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Py<PyAny>>> {
    let mut parser = PartialJson::new().with_max_depth(max_depth_option(max_depth)?);
    feed_any(&mut parser, text, "parse_partial()")?;
    Ok(build_value(
        py,
        parser.text(),
        parser.scan(),
        &mut ValueCache::default(),
        partial_strings,
    )?
    .map(Bound::unbind))
}
