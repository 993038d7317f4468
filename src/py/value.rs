//! Python values of a (partial) JSON text, built on demand with reuse.
//!
//! Closed children are built once (`Shared`). Each open container has a live Python object in
//! each of two trees, with the open child (if it shows) as its last item, the "tail". A read
//! updates a tree in place only when nobody else holds its objects (reference count), and copies
//! them first otherwise, so a value the caller keeps never changes under it. Because a caller
//! that keeps the previous value (`v = p.value()`) holds one tree, the next read updates the
//! other: both "read and drop" and "keep the last value" cost O(fragment + depth) per read
//! instead of O(width of the open containers). CPython's in-place `str +=` relies on the same
//! reference-count check. Values returned share closed subtrees: treat them as read-only.

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};

use super::errors::parse_error;
use crate::error::ParseKind;
use crate::partial_json::{decode_into, Frame, Kind, Leaf, Node, PartialJson, Scan, StrSpan};

#[derive(Debug)]
enum Tail {
    None,
    /// The last list item is the open child.
    Item,
    /// The entry `key` is the open child; `prev` is the closed value it shadows (duplicate key).
    /// `start` is where the key's text starts: the same key of the same object.
    Key {
        start: u32,
        key: Py<PyAny>,
        prev: Option<Py<PyAny>>,
    },
    /// Between `prepare` and the end of a read: the entry `key` (no duplicate) still holds the
    /// last read's open child. The read sets it again in place (the same key is still open, or
    /// its value closed) or removes it: a dict entry replaced keeps its place, so the open
    /// child need not be deleted and inserted again on every read, nor its key rebuilt.
    Held {
        start: u32,
        key: Py<PyAny>,
    },
    /// As `Held`, for a list: its last item is still the last read's open child.
    HeldItem,
}

/// The closed children of one open container, built once and shared by both live trees.
#[derive(Debug)]
struct Shared {
    id: u32,
    keys: Vec<Py<PyAny>>,
    values: Vec<Py<PyAny>>,
}

/// One open container's Python object in one live tree.
#[derive(Debug)]
struct Live {
    id: u32,
    built: usize,
    obj: Py<PyAny>,
    tail: Tail,
    /// The object the tail was last set to (its address). While the tail is held, the entry
    /// holds that object, so no other can have its address: an open child updated in place
    /// is the same object, and its entry need not be set again.
    tail_obj: usize,
}

impl Live {
    /// `self.tail = tail`, without a call to drop a `Tail::None` (the tail a `mem::replace` or
    /// an earlier arm left): ~5 such drops a read were 2.7% of a 200 KB value's reads.
    #[inline]
    fn set_tail(&mut self, tail: Tail) {
        if matches!(self.tail, Tail::None) {
            std::mem::forget(std::mem::replace(&mut self.tail, tail));
        } else {
            self.tail = tail;
        }
    }
}

/// Python strings of the object keys met lately, by their text: the same field of the next
/// record is the same `str`, made and hashed once. A key of up to `KEY_MAX` bytes without
/// escapes takes the slot its text hashes to (a clash replaces the entry).
#[derive(Debug)]
struct Keys {
    slots: Vec<Option<(Box<str>, Py<PyAny>)>>,
}

const KEY_SLOTS: usize = 256;
const KEY_MAX: usize = 32;

impl Default for Keys {
    /// No slots until the first key: each tool call has a cache, most never build a value.
    fn default() -> Self {
        Self { slots: Vec::new() }
    }
}

impl Keys {
    /// The key of `text` at `span` as a Python `str`. Not inlined: `build_closed` recurses once
    /// a level, and 1,000 levels must fit a small thread's stack.
    #[inline(never)]
    fn get<'py>(&mut self, py: Python<'py>, text: &str, span: StrSpan) -> PyResult<Bound<'py, PyAny>> {
        let raw = &text[span.start as usize..span.end as usize];
        if span.escaped || raw.len() > KEY_MAX {
            return py_str(py, text, span);
        }
        // FNV-1a: a few instructions a byte for a key of a few bytes.
        let hash = raw.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        if self.slots.is_empty() {
            self.slots.resize_with(KEY_SLOTS, || None);
        }
        #[allow(clippy::cast_possible_truncation)] // the low bits pick the slot
        let slot = &mut self.slots[hash as usize % KEY_SLOTS];
        match slot {
            Some((known, key)) if **known == *raw => Ok(key.bind(py).clone()),
            _ => {
                let key = new_str(py, raw).into_any();
                *slot = Some((raw.into(), key.clone().unbind()));
                Ok(key)
            }
        }
    }
}

/// What was built for one scan, reused across reads.
///
/// Two live trees: a caller that keeps the previous value (`v = p.value()`) holds one of them,
/// and the next read updates the other in place, so that loop stays O(fragment) per read too.
#[derive(Debug, Default)]
pub struct ValueCache {
    keys: Keys,
    shared: Vec<Shared>,
    trees: [Vec<Live>; 2],
    last: usize,
    root: Option<Py<PyAny>>,
}

/// A Python `str` for a JSON string span (lone surrogates kept, as `json.loads` keeps them).
pub fn py_str<'py>(py: Python<'py>, text: &str, span: StrSpan) -> PyResult<Bound<'py, PyAny>> {
    if !span.escaped {
        return Ok(new_str(py, &text[span.start as usize..span.end as usize]).into_any());
    }
    // Decoded into a buffer kept for the next string: a span is built again after every
    // fragment while it is open, and an allocation cost as much as the decoding.
    thread_local!(static DECODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    DECODED.with_borrow_mut(|bytes| {
        bytes.clear();
        let lone = decode_into(&text.as_bytes()[span.start as usize..span.end as usize], bytes);
        if !lone {
            // SAFETY: spans end on character boundaries of a `str`, and decoded escapes are
            // written as UTF-8; only lone surrogates (handled below) would not be.
            return Ok(new_str(py, unsafe { std::str::from_utf8_unchecked(bytes) }).into_any());
        }
        let len = ffi::Py_ssize_t::try_from(bytes.len()).unwrap_or(ffi::Py_ssize_t::MAX);
        // SAFETY: pointer and length describe `bytes`, which outlives the call; the error
        // handler name is a NUL-terminated static string.
        unsafe {
            let ptr = ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), len, c"surrogatepass".as_ptr());
            Bound::from_owned_ptr_or_err(py, ptr)
        }
    })
}

/// `text` as a Python `str`. ASCII text (most JSON) is copied into a new string as it is:
/// CPython's UTF-8 decoder would check and copy it a byte at a time.
#[inline]
pub fn new_str<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyString> {
    #[cfg(not(any(Py_LIMITED_API, PyPy, GraalPy)))]
    if text.is_ascii() {
        if let Ok(len) = ffi::Py_ssize_t::try_from(text.len()) {
            // SAFETY: a new ASCII string of `len` characters (one byte each, its NUL written by
            // CPython) is filled with `len` ASCII bytes before anyone sees it.
            unsafe {
                let obj = ffi::PyUnicode_New(len, 127);
                if !obj.is_null() {
                    std::ptr::copy_nonoverlapping(text.as_ptr(), ffi::PyUnicode_DATA(obj).cast::<u8>(), text.len());
                    return Bound::from_owned_ptr(py, obj).cast_into_unchecked();
                }
                ffi::PyErr_Clear(); // out of memory: PyString::new below meets it again, as before
            }
        }
    }
    PyString::new(py, text)
}

/// A Python number for the JSON number token at `start..end` of `text`, exactly as
/// `json.loads` reads it. An integer past Python's digit limit for `int(str)` (4300 by
/// default, `sys.set_int_max_str_digits`) is a `ParseError` at its position, as it is a
/// `ValueError` for `json.loads`.
pub fn py_num<'py>(py: Python<'py>, text: &str, start: u32, end: u32) -> PyResult<Bound<'py, PyAny>> {
    let token = &text[start as usize..end as usize];
    if token.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        let f: f64 = token.parse().unwrap_or(f64::NAN);
        return Ok(PyFloat::new(py, f).into_any());
    }
    if token.len() <= 18 {
        if let Ok(i) = token.parse::<i64>() {
            return Ok(i.into_pyobject(py)?.into_any());
        }
    }
    py.get_type::<PyInt>().call1((token,)).map_err(|err| {
        if err.is_instance_of::<PyValueError>(py) {
            let digits = token.trim_start_matches('-').len();
            let message = format!(
                "integer of {digits} digits is past Python's limit for int conversion ({})",
                err.value(py)
            );
            parse_error(py, ParseKind::Malformed, u64::from(start), &message)
        } else {
            err
        }
    })
}

fn new_container(py: Python<'_>, kind: Kind) -> Py<PyAny> {
    match kind {
        Kind::Array => PyList::empty(py).into_any().unbind(),
        Kind::Object => PyDict::new(py).into_any().unbind(),
    }
}

/// Makes `live.obj` safe to mutate and removes its open tail.
///
/// A reference besides the cache's means someone kept a value holding this object: it is
/// copied, and the copy becomes the live object.
fn prepare(py: Python<'_>, live: &mut Live, in_parent: bool) -> PyResult<()> {
    if !only_ours(&live.obj, in_parent) {
        let obj = live.obj.bind(py);
        let copy = match obj.cast::<PyList>() {
            Ok(list) => list.get_slice(0, list.len()).into_any(),
            Err(_) => obj.cast::<PyDict>()?.copy()?.into_any(),
        };
        live.obj = copy.unbind();
    }
    let obj = live.obj.bind(py);
    // Free-threaded builds cannot tell the parent's reference from a caller's (see
    // `only_ours`): there the open child goes now, as the child's reference.
    let hold = !cfg!(Py_GIL_DISABLED);
    match std::mem::replace(&mut live.tail, Tail::None) {
        Tail::None => {}
        Tail::Key {
            key, prev: Some(prev), ..
        } => obj.cast::<PyDict>()?.set_item(key, prev)?,
        Tail::Item if hold => live.set_tail(Tail::HeldItem),
        Tail::Key { start, key, prev: None } if hold => live.set_tail(Tail::Held { start, key }),
        // Not held, or still held (a read that failed before its end): removed now.
        Tail::Item | Tail::HeldItem => {
            let list = obj.cast::<PyList>()?;
            list.del_item(list.len() - 1)?;
        }
        Tail::Key { key, .. } | Tail::Held { key, .. } => obj.cast::<PyDict>()?.del_item(key)?,
    }
    Ok(())
}

/// Removes an entry still `Held` (its open child shows no more); the tail is then none.
fn drop_held(py: Python<'_>, live: &mut Live) -> PyResult<()> {
    match &live.tail {
        Tail::Held { key, .. } => live.obj.bind(py).cast::<PyDict>()?.del_item(key)?,
        Tail::HeldItem => {
            let list = live.obj.bind(py).cast::<PyList>()?;
            list.del_item(list.len() - 1)?;
        }
        _ => return Ok(()),
    }
    live.tail = Tail::None;
    Ok(())
}

/// Whether the cache holds the only references to `obj` (its own, and with `in_parent` its
/// parent's `Held` entry), so that changing it in place cannot be seen by anyone. With the GIL
/// the reference count proves it. Free-threaded builds count references per thread and merge
/// them later, so there only CPython's own check is trusted (3.14+; a parent never holds a
/// child there, see `prepare`); on 3.13t the answer is always "no" and values are copied
/// (correct, O(width)).
pub(super) fn only_ours(obj: &Py<PyAny>, in_parent: bool) -> bool {
    #[cfg(not(Py_GIL_DISABLED))]
    {
        // SAFETY: reading the reference count of a live object we hold a reference to.
        unsafe { ffi::Py_REFCNT(obj.as_ptr()) <= 1 + ffi::Py_ssize_t::from(in_parent) }
    }
    #[cfg(all(Py_GIL_DISABLED, Py_3_14))]
    {
        let _ = in_parent;
        // SAFETY: a live object we hold a reference to.
        unsafe { ffi::PyUnstable_Object_IsUniquelyReferenced(obj.as_ptr()) == 1 }
    }
    #[cfg(all(Py_GIL_DISABLED, not(Py_3_14)))]
    {
        let _ = (obj, in_parent);
        false
    }
}

/// A closed value that is no container.
#[inline(never)]
fn build_scalar<'py>(py: Python<'py>, text: &str, node: &Node) -> PyResult<Bound<'py, PyAny>> {
    match node {
        Node::Null => Ok(py.None().into_bound(py)),
        Node::Bool(b) => Ok(pyo3::types::PyBool::new(py, *b).to_owned().into_any()),
        Node::Num { start, end } => py_num(py, text, *start, *end),
        Node::Str(span) => py_str(py, text, *span),
        Node::Arr { .. } | Node::Obj { .. } => unreachable!("containers are built by build_closed"),
    }
}

/// A closed value. A container that was open at an earlier read reuses the children built then
/// (`shared[depth]`); building the container itself is O(its width), once. Each kind is built
/// by a function of its own, not inlined: this one recurses once a level, and 1,000 levels
/// must fit a small thread's stack.
#[inline(never)]
fn build_closed<'py>(
    py: Python<'py>,
    text: &str,
    node: &Node,
    depth: usize,
    shared: &mut Vec<Shared>,
    keys: &mut Keys,
) -> PyResult<Bound<'py, PyAny>> {
    match node {
        Node::Arr { id, items } => closed_list(py, text, *id, items, depth, shared, keys),
        Node::Obj { id, entries } => closed_dict(py, text, *id, entries, depth, shared, keys),
        scalar => build_scalar(py, text, scalar),
    }
}

/// The children built at an earlier read of the container `id` at `depth`, if it was open.
fn built_before(shared: &mut [Shared], depth: usize, id: u32) -> (Vec<Py<PyAny>>, Vec<Py<PyAny>>) {
    match shared.get_mut(depth) {
        Some(sh) if sh.id == id => (std::mem::take(&mut sh.keys), std::mem::take(&mut sh.values)),
        _ => (Vec::new(), Vec::new()),
    }
}

#[inline(never)]
fn closed_list<'py>(
    py: Python<'py>,
    text: &str,
    id: u32,
    items: &[Node],
    depth: usize,
    shared: &mut Vec<Shared>,
    keys: &mut Keys,
) -> PyResult<Bound<'py, PyAny>> {
    let (_, mut values) = built_before(shared, depth, id);
    for item in &items[values.len().min(items.len())..] {
        values.push(build_closed(py, text, item, depth + 1, shared, keys)?.unbind());
    }
    shared.truncate(depth);
    new_list(py, values)
}

/// A list of `values` (their references moved into it). By hand, as `PyList::new`'s
/// iterator checks take a frame twice the size, once a level of a deep value.
fn new_list(py: Python<'_>, values: Vec<Py<PyAny>>) -> PyResult<Bound<'_, PyAny>> {
    let len = ffi::Py_ssize_t::try_from(values.len()).unwrap_or(ffi::Py_ssize_t::MAX);
    // SAFETY: a new list of `len` empty slots, each set once, with a reference of its own.
    unsafe {
        let list = Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len))?;
        for (i, value) in (0..len).zip(values) {
            ffi::PyList_SetItem(list.as_ptr(), i, value.into_ptr());
        }
        Ok(list)
    }
}

#[inline(never)]
fn closed_dict<'py>(
    py: Python<'py>,
    text: &str,
    id: u32,
    entries: &[(StrSpan, Node)],
    depth: usize,
    shared: &mut Vec<Shared>,
    keys: &mut Keys,
) -> PyResult<Bound<'py, PyAny>> {
    let (mut names, mut values) = built_before(shared, depth, id);
    for (key, value) in &entries[values.len().min(entries.len())..] {
        names.push(keys.get(py, text, *key)?.unbind());
        values.push(build_closed(py, text, value, depth + 1, shared, keys)?.unbind());
    }
    shared.truncate(depth);
    let dict = PyDict::new(py);
    for (key, value) in names.into_iter().zip(values) {
        dict.set_item(key, value)?;
    }
    Ok(dict.into_any())
}

/// Builds the closed children of every open container that are new since the last read.
fn sync_shared(py: Python<'_>, text: &str, open: &[Frame], shared: &mut Vec<Shared>, keys: &mut Keys) -> PyResult<()> {
    for (depth, frame) in open.iter().enumerate() {
        if shared.get(depth).is_none_or(|sh| sh.id != frame.id) {
            shared.truncate(depth);
            shared.push(Shared {
                id: frame.id,
                keys: Vec::new(),
                values: Vec::new(),
            });
        }
        let built = shared[depth].values.len();
        match frame.kind {
            Kind::Array => {
                for item in &frame.items[built..] {
                    let value = build_closed(py, text, item, depth + 1, shared, keys)?.unbind();
                    shared[depth].values.push(value);
                }
            }
            Kind::Object => {
                for (key, value) in &frame.entries[built..] {
                    let key = keys.get(py, text, *key)?.unbind();
                    let value = build_closed(py, text, value, depth + 1, shared, keys)?.unbind();
                    shared[depth].keys.push(key);
                    shared[depth].values.push(value);
                }
            }
        }
    }
    Ok(())
}

/// Brings one live tree up to date with `shared` and the open path; returns its root.
fn sync_tree<'py>(
    py: Python<'py>,
    text: &str,
    open: &[Frame],
    shared: &[Shared],
    tree: &mut Vec<Live>,
    leaf: Option<Bound<'py, PyAny>>,
    keys: &mut Keys,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // The open path's containers from the first that is not the one the tree holds are new.
    let same = open
        .iter()
        .zip(tree.iter())
        .take_while(|(frame, live)| live.id == frame.id)
        .count();
    if same < open.len() {
        tree.truncate(same);
        tree.extend(open[same..].iter().map(|frame| Live {
            id: frame.id,
            built: 0,
            obj: new_container(py, frame.kind),
            tail: Tail::None,
            tail_obj: 0,
        }));
    }
    // Zipped, not indexed by depth: a read walks the open path twice.
    let tree = &mut tree[..open.len()];
    let mut parent_held = false;
    for ((frame, live), sh) in open.iter().zip(tree.iter_mut()).zip(shared) {
        // Only the cache refers to this object (its parent's entry still holds it when that is
        // `Held`: the last read set it there) unless a value the caller kept does.
        prepare(py, live, parent_held)?;
        let obj = live.obj.bind(py);
        match frame.kind {
            Kind::Array => {
                let list = obj.cast::<PyList>()?;
                for value in &sh.values[live.built..] {
                    // The held item closed: the first new item takes its place.
                    if matches!(live.tail, Tail::HeldItem) {
                        live.tail = Tail::None;
                        list.set_item(list.len() - 1, value.bind(py))?;
                    } else {
                        list.append(value.bind(py))?;
                    }
                }
            }
            Kind::Object => {
                let dict = obj.cast::<PyDict>()?;
                for ((key, value), (span, _)) in sh.keys[live.built..]
                    .iter()
                    .zip(&sh.values[live.built..])
                    .zip(&frame.entries[live.built..])
                {
                    // The held entry's value closed: it is set again in its place.
                    if matches!(live.tail, Tail::Held { start, .. } if start == span.start) {
                        live.tail = Tail::None;
                    }
                    dict.set_item(key.bind(py), value.bind(py))?;
                }
            }
        }
        live.built = sh.values.len();
        parent_held = matches!(live.tail, Tail::Held { .. } | Tail::HeldItem);
    }
    let mut child = leaf;
    for (frame, live) in open.iter().zip(tree.iter_mut()).rev() {
        let obj = live.obj.bind(py).clone();
        if let Some(value) = child {
            let same = live.tail_obj == value.as_ptr() as usize;
            live.tail_obj = value.as_ptr() as usize;
            match frame.kind {
                Kind::Array => {
                    let list = obj.cast::<PyList>()?;
                    if !matches!(live.tail, Tail::HeldItem) {
                        list.append(value)?;
                    } else if !same {
                        list.set_item(list.len() - 1, value)?;
                    }
                    live.set_tail(Tail::Item);
                }
                Kind::Object => {
                    if let Some(span) = frame.key {
                        let dict = obj.cast::<PyDict>()?;
                        match std::mem::replace(&mut live.tail, Tail::None) {
                            // The same key still open: its entry is replaced where it is.
                            Tail::Held { start, key } if start == span.start => {
                                if !same {
                                    dict.set_item(key.bind(py), value)?;
                                }
                                live.set_tail(Tail::Key { start, key, prev: None });
                            }
                            held => {
                                if let Tail::Held { key, .. } = held {
                                    dict.del_item(key)?;
                                }
                                let key = keys.get(py, text, span)?;
                                let prev = dict.get_item(&key)?.map(Bound::unbind);
                                dict.set_item(&key, value)?;
                                live.set_tail(Tail::Key {
                                    start: span.start,
                                    key: key.unbind(),
                                    prev,
                                });
                            }
                        }
                    }
                }
            }
        }
        drop_held(py, live)?;
        child = Some(obj);
    }
    Ok(child)
}

/// The Python value of what `scan` has read of `text` (`None` when nothing shows yet).
/// With `partial_strings = false`, an unfinished string is left out (with its key).
/// `cache` must always be used with the same `scan`.
pub fn build_value<'py>(
    py: Python<'py>,
    text: &str,
    scan: &Scan,
    cache: &mut ValueCache,
    partial_strings: bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if let Some(root) = scan.root() {
        if let Some(done) = &cache.root {
            return Ok(Some(done.bind(py).clone()));
        }
        let value = build_closed(py, text, root, 0, &mut cache.shared, &mut cache.keys)?;
        cache.shared.clear();
        cache.trees = [Vec::new(), Vec::new()];
        cache.root = Some(value.clone().unbind());
        return Ok(Some(value));
    }
    let open = scan.frames();
    sync_shared(py, text, open, &mut cache.shared, &mut cache.keys)?;
    let leaf = match scan.leaf() {
        Leaf::Str(span) if partial_strings => Some(py_str(py, text, span)?),
        Leaf::Num { start, end } => Some(py_num(py, text, start, end)?),
        Leaf::Str(_) | Leaf::None => None,
    };
    // The tree whose root nobody else holds is updated in place; if the caller keeps both,
    // `prepare` copies what it must.
    let free = |tree: &Vec<Live>| tree.first().is_none_or(|live| only_ours(&live.obj, false));
    let pick = if free(&cache.trees[cache.last]) || !free(&cache.trees[1 - cache.last]) {
        cache.last
    } else {
        1 - cache.last
    };
    cache.last = pick;
    sync_tree(
        py,
        text,
        open,
        &cache.shared,
        &mut cache.trees[pick],
        leaf,
        &mut cache.keys,
    )
}

/// The value of a prefix, built from scratch (no cache): for values asked for after the parser
/// has moved on.
pub fn build_prefix_value<'py>(py: Python<'py>, prefix: &str, max_depth: usize) -> PyResult<Option<Bound<'py, PyAny>>> {
    let mut parser = PartialJson::new().with_max_depth(max_depth);
    // A malformed text shows what came before the fault.
    let _ = parser.feed(prefix);
    build_value(py, parser.text(), parser.scan(), &mut ValueCache::default(), true)
}

/// The value of a whole JSON text without Python's `json` (no recursion, `max_depth` bounded):
/// `Ok(None)` when it is not one valid value, a `ParseError` when Python cannot hold a number.
pub fn build_json<'py>(py: Python<'py>, text: &str, max_depth: usize) -> PyResult<Option<Bound<'py, PyAny>>> {
    let mut parser = PartialJson::new().with_max_depth(max_depth);
    if parser.feed(text).is_err() || parser.end().is_err() {
        return Ok(None);
    }
    build_value(py, parser.text(), parser.scan(), &mut ValueCache::default(), true)
}
