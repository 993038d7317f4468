//! Python values of a (partial) JSON text, built on demand with reuse.
//!
//! Closed subtrees are built once. Each open container has one live Python object that grows as
//! its children close, with the open child (if it shows) as its last item, the "tail". A read
//! updates the live objects in place only when nobody else holds them (reference count), and
//! copies them first otherwise, so a value the caller keeps never changes under it, while the
//! common loop "read the value, use it, drop it" costs O(fragment + depth) per read instead of
//! O(width of the open containers). CPython's in-place `str +=` relies on the same check.
//! Values returned share closed subtrees: treat them as read-only, or copy them.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};

use crate::partial_json::{decode_str, Kind, Leaf, Node, PartialJson, Scan, StrSpan};

#[derive(Debug)]
enum Tail {
    None,
    /// The last list item is the open child.
    Item,
    /// The entry `key` is the open child; `prev` is the closed value it shadows (duplicate key).
    Key { key: Py<PyAny>, prev: Option<Py<PyAny>> },
}

#[derive(Debug)]
struct Live {
    id: u32,
    built: usize,
    obj: Py<PyAny>,
    tail: Tail,
}

/// What was built for one parser, reused across reads.
#[derive(Debug, Default)]
pub struct ValueCache {
    frames: Vec<Live>,
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

fn new_container(py: Python<'_>, kind: Kind) -> Py<PyAny> {
    match kind {
        Kind::Array => PyList::empty(py).into_any().unbind(),
        Kind::Object => PyDict::new(py).into_any().unbind(),
    }
}

/// Makes `live.obj` safe to mutate and removes its open tail.
///
/// `others` is how many references besides the cache's are expected (the caller's own handle).
/// More than that means someone kept a value holding this object: it is copied, and the copy
/// becomes the live object.
fn prepare(py: Python<'_>, live: &mut Live, others: isize) -> PyResult<()> {
    // SAFETY: reading the reference count of a live object we hold a reference to.
    let refs = unsafe { ffi::Py_REFCNT(live.obj.as_ptr()) };
    if refs > 1 + others {
        let obj = live.obj.bind(py);
        let copy = match obj.cast::<PyList>() {
            Ok(list) => list.get_slice(0, list.len()).into_any(),
            Err(_) => obj.cast::<PyDict>()?.copy()?.into_any(),
        };
        live.obj = copy.unbind();
    }
    let obj = live.obj.bind(py);
    match std::mem::replace(&mut live.tail, Tail::None) {
        Tail::None => {}
        Tail::Item => {
            let list = obj.cast::<PyList>()?;
            list.del_item(list.len() - 1)?;
        }
        Tail::Key { key, prev } => {
            let dict = obj.cast::<PyDict>()?;
            match prev {
                Some(prev) => dict.set_item(key, prev)?,
                None => dict.del_item(key)?,
            }
        }
    }
    Ok(())
}

/// Appends closed children `from..` of a container to its Python object.
fn extend<'py>(py: Python<'py>, text: &str, obj: &Bound<'py, PyAny>, items: &[Node], entries: &[(StrSpan, Node)], depth: usize, frames: &mut Vec<Live>) -> PyResult<()> {
    if let Ok(list) = obj.cast::<PyList>() {
        for item in items {
            list.append(build_node(py, text, item, depth + 1, frames)?)?;
        }
    } else {
        let dict = obj.cast::<PyDict>()?;
        for (key, value) in entries {
            dict.set_item(py_str(py, text, *key)?, build_node(py, text, value, depth + 1, frames)?)?;
        }
    }
    Ok(())
}

fn build_node<'py>(py: Python<'py>, text: &str, node: &Node, depth: usize, frames: &mut Vec<Live>) -> PyResult<Bound<'py, PyAny>> {
    let (id, kind, len) = match node {
        Node::Null => return Ok(py.None().into_bound(py)),
        Node::Bool(b) => return Ok(pyo3::types::PyBool::new(py, *b).to_owned().into_any()),
        Node::Num { start, end } => return py_num(py, &text[*start as usize..*end as usize]),
        Node::Str(span) => return py_str(py, text, *span),
        Node::Arr { id, items } => (*id, Kind::Array, items.len()),
        Node::Obj { id, entries } => (*id, Kind::Object, entries.len()),
    };
    // The container was open at the last read: finish its live object instead of rebuilding.
    let (obj, built) = match frames.get_mut(depth).filter(|f| f.id == id) {
        Some(live) => {
            prepare(py, live, 0)?;
            let built = live.built.min(len);
            let obj = live.obj.clone_ref(py).into_bound(py);
            frames.truncate(depth);
            (obj, built)
        }
        None => (new_container(py, kind).into_bound(py), 0),
    };
    match node {
        Node::Arr { items, .. } => extend(py, text, &obj, &items[built..], &[], depth, frames)?,
        Node::Obj { entries, .. } => extend(py, text, &obj, &[], &entries[built..], depth, frames)?,
        _ => {}
    }
    Ok(obj)
}

/// The Python value of what `scan` has read of `text` (`None` when nothing shows yet).
/// With `partial_strings = false`, an unfinished string is left out (with its key).
/// `cache` must always be used with the same `scan`.
pub fn build_value<'py>(py: Python<'py>, text: &str, scan: &Scan, cache: &mut ValueCache, partial_strings: bool) -> PyResult<Option<Bound<'py, PyAny>>> {
    let parser = scan;
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
        if cache.frames.get(depth).is_none_or(|f| f.id != frame.id) {
            cache.frames.truncate(depth);
            cache.frames.push(Live { id: frame.id, built: 0, obj: new_container(py, frame.kind), tail: Tail::None });
        }
        // The parent's tail was removed just before, so only the cache refers to this object
        // unless a value the caller kept does.
        prepare(py, &mut cache.frames[depth], 0)?;
        let built = cache.frames[depth].built;
        let obj = cache.frames[depth].obj.clone_ref(py).into_bound(py);
        match frame.kind {
            Kind::Array => extend(py, text, &obj, &frame.items[built..], &[], depth, &mut cache.frames)?,
            Kind::Object => extend(py, text, &obj, &[], &frame.entries[built..], depth, &mut cache.frames)?,
        }
        cache.frames[depth].built = frame.len();
    }
    let mut child = match parser.leaf() {
        Leaf::Str(span) if partial_strings => Some(py_str(py, text, span)?),
        Leaf::Num { start, end } => Some(py_num(py, &text[start as usize..end as usize])?),
        Leaf::Str(_) | Leaf::None => None,
    };
    for (depth, frame) in open.iter().enumerate().rev() {
        let live = &mut cache.frames[depth];
        let obj = live.obj.bind(py);
        if let Some(value) = child {
            match frame.kind {
                Kind::Array => {
                    obj.cast::<PyList>()?.append(value)?;
                    live.tail = Tail::Item;
                }
                Kind::Object => {
                    if let Some(key) = frame.key {
                        let dict = obj.cast::<PyDict>()?;
                        let key = py_str(py, text, key)?;
                        let prev = dict.get_item(&key)?.map(Bound::unbind);
                        dict.set_item(&key, value)?;
                        live.tail = Tail::Key { key: key.unbind(), prev };
                    }
                }
            }
        }
        child = Some(obj.clone());
    }
    Ok(child)
}

/// The value of a prefix, built from scratch (no cache): for values asked for after the parser
/// has moved on.
pub fn build_prefix_value<'py>(py: Python<'py>, prefix: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let parser = PartialJson::from_text(prefix);
    build_value(py, parser.text(), parser.scan(), &mut ValueCache::default(), true)
}
