//! Python values of a (partial) JSON text, built on demand with reuse.
//!
//! Closed subtrees are built once; each open container keeps a private Python object that grows
//! as its children close, and every read returns a fresh shallow copy of the open path with the
//! current leaf added. Reading after every fragment therefore costs the new children plus the
//! copies of the open containers, not a re-parse. Returned values share closed subtrees with each
//! other: treat them as read-only (or copy them) if you keep several.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};

use crate::partial_json::{decode_str, Frame, Kind, Leaf, Node, PartialJson, StrSpan};

#[derive(Debug, Default)]
struct CachedFrame {
    id: u32,
    built: usize,
    obj: Option<Py<PyAny>>,
}

/// What was built for one parser, reused across reads.
#[derive(Debug, Default)]
pub struct ValueCache {
    frames: Vec<CachedFrame>,
    root: Option<Py<PyAny>>,
}

/// A Python `str` for a JSON string span (lone surrogates kept, as `json.loads` keeps them).
pub fn py_str<'py>(py: Python<'py>, text: &str, span: StrSpan) -> PyResult<Bound<'py, PyAny>> {
    let (bytes, lone) = decode_str(text, span);
    if !lone {
        // SAFETY: spans end on character boundaries of a `str`, and decoded escapes are written
        // as UTF-8; only lone surrogates (handled below) would not be.
        let s = unsafe { std::str::from_utf8_unchecked(&bytes) };
        return Ok(PyString::new(py, s).into_any());
    }
    let len = ffi::Py_ssize_t::try_from(bytes.len()).unwrap_or(ffi::Py_ssize_t::MAX);
    // SAFETY: pointer and length describe `bytes`, which outlives the call; the error handler
    // name is a NUL-terminated static string.
    unsafe {
        let ptr = ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), len, c"surrogatepass".as_ptr());
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}

/// A Python number for a JSON number token, exactly as `json.loads` reads it.
pub fn py_num<'py>(py: Python<'py>, token: &str) -> PyResult<Bound<'py, PyAny>> {
    if token.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        let f: f64 = token.parse().unwrap_or(f64::NAN);
        return Ok(PyFloat::new(py, f).into_any());
    }
    if token.len() <= 18 {
        if let Ok(i) = token.parse::<i64>() {
            return Ok(i.into_pyobject(py)?.into_any());
        }
    }
    py.get_type::<PyInt>().call1((token,))
}

fn build_node<'py>(py: Python<'py>, text: &str, node: &Node, depth: usize, frames: &mut [CachedFrame]) -> PyResult<Bound<'py, PyAny>> {
    match node {
        Node::Null => Ok(py.None().into_bound(py)),
        Node::Bool(b) => Ok(pyo3::types::PyBool::new(py, *b).to_owned().into_any()),
        Node::Num { start, end } => py_num(py, &text[*start as usize..*end as usize]),
        Node::Str(span) => py_str(py, text, *span),
        Node::Arr { id, items } => {
            let (list, built) = match take_cached(py, frames, depth, *id) {
                Some((obj, built)) => (obj.cast_into::<PyList>()?, built),
                None => (PyList::empty(py), 0),
            };
            for item in &items[built.min(items.len())..] {
                list.append(build_node(py, text, item, depth + 1, frames)?)?;
            }
            Ok(list.into_any())
        }
        Node::Obj { id, entries } => {
            let (dict, built) = match take_cached(py, frames, depth, *id) {
                Some((obj, built)) => (obj.cast_into::<PyDict>()?, built),
                None => (PyDict::new(py), 0),
            };
            for (key, value) in &entries[built.min(entries.len())..] {
                dict.set_item(py_str(py, text, *key)?, build_node(py, text, value, depth + 1, frames)?)?;
            }
            Ok(dict.into_any())
        }
    }
}

/// The private object built while the container at `depth` was open, if it is this one.
fn take_cached<'py>(py: Python<'py>, frames: &mut [CachedFrame], depth: usize, id: u32) -> Option<(Bound<'py, PyAny>, usize)> {
    let cached = frames.get_mut(depth).filter(|f| f.id == id && f.obj.is_some())?;
    let obj = cached.obj.take()?;
    Some((obj.into_bound(py), cached.built))
}

fn sync_frame(py: Python<'_>, text: &str, frame: &Frame, depth: usize, frames: &mut Vec<CachedFrame>) -> PyResult<()> {
    if frames.get(depth).is_none_or(|f| f.id != frame.id || f.obj.is_none()) {
        let obj = match frame.kind {
            Kind::Array => PyList::empty(py).into_any().unbind(),
            Kind::Object => PyDict::new(py).into_any().unbind(),
        };
        frames.truncate(depth);
        frames.push(CachedFrame { id: frame.id, built: 0, obj: Some(obj) });
    }
    let built = frames[depth].built;
    if built == frame.len() {
        return Ok(());
    }
    let obj = frames[depth].obj.as_ref().map(|o| o.clone_ref(py)).ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("value cache"))?;
    let obj = obj.bind(py);
    match frame.kind {
        Kind::Array => {
            let list = obj.cast::<PyList>()?;
            for item in &frame.items[built..] {
                list.append(build_node(py, text, item, depth + 1, frames)?)?;
            }
        }
        Kind::Object => {
            let dict = obj.cast::<PyDict>()?;
            for (key, value) in &frame.entries[built..] {
                dict.set_item(py_str(py, text, *key)?, build_node(py, text, value, depth + 1, frames)?)?;
            }
        }
    }
    frames[depth].built = frame.len();
    Ok(())
}

/// The Python value of what `parser` has read (`None` when nothing shows yet).
/// With `partial_strings = false`, an unfinished string is left out (with its key).
pub fn build_value<'py>(py: Python<'py>, parser: &PartialJson, cache: &mut ValueCache, partial_strings: bool) -> PyResult<Option<Bound<'py, PyAny>>> {
    let text = parser.text();
    if let Some(root) = parser.root() {
        if let Some(done) = &cache.root {
            return Ok(Some(done.bind(py).clone()));
        }
        let value = build_node(py, text, root, 0, &mut cache.frames)?;
        cache.frames.clear();
        cache.root = Some(value.clone().unbind());
        return Ok(Some(value));
    }
    let open = parser.frames();
    for (depth, frame) in open.iter().enumerate() {
        sync_frame(py, text, frame, depth, &mut cache.frames)?;
    }
    let mut child = match parser.leaf() {
        Leaf::Str(span) if partial_strings => Some(py_str(py, text, span)?),
        Leaf::Num { start, end } => Some(py_num(py, &text[start as usize..end as usize])?),
        Leaf::Str(_) | Leaf::None => None,
    };
    for (depth, frame) in open.iter().enumerate().rev() {
        let Some(obj) = cache.frames[depth].obj.as_ref() else { continue };
        let obj = obj.bind(py);
        let fresh = match frame.kind {
            Kind::Array => {
                let list = obj.cast::<PyList>()?;
                let copy = list.get_slice(0, list.len());
                if let Some(c) = child {
                    copy.append(c)?;
                }
                copy.into_any()
            }
            Kind::Object => {
                let copy = obj.cast::<PyDict>()?.copy()?;
                if let (Some(key), Some(c)) = (frame.key, child) {
                    copy.set_item(py_str(py, text, key)?, c)?;
                }
                copy.into_any()
            }
        };
        child = Some(fresh);
    }
    Ok(child)
}

/// The value of a prefix, built from scratch (no cache): for values asked for after the parser
/// has moved on.
pub fn build_prefix_value<'py>(py: Python<'py>, prefix: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let parser = PartialJson::from_text(prefix);
    build_value(py, &parser, &mut ValueCache::default(), true)
}
