//! `feed` of `StreamAccumulator` and `PartialJSON` for their most frequent call: one positional
//! argument, no keyword.
//!
//! Most short network reads end inside a line: the decoder keeps their bytes and there is
//! nothing to report; a fragment of arguments is a few characters. For these the work is a
//! copy or a short scan, and pyo3's method call around it (argument parsing, the GIL count,
//! the reference pool, the panic guard) costs several times more; on 64-byte reads it was a
//! tenth of the time of the reads that end a line too. `install` puts a plain CPython method in
//! front of pyo3's: it takes a `bytes` read under 16 KiB (pyo3's method releases the GIL for
//! longer ones) and a `str` fragment, and hands every other call, unchanged, to the method
//! pyo3 made. The GIL is not counted in pyo3's books here, so a `Py` dropped while answering
//! is released at pyo3's next call, not at once: the answers drop `Bound`s, which release at
//! once (a usage object replaced is the one `Py` left). Not on the stable ABI, whose method
//! descriptors are opaque: there pyo3's methods stay.

use std::ptr;
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use super::accumulator::PyStreamAccumulator;
use super::partial::PyPartialJson;

type Method = ffi::PyCFunctionFastWithKeywords;

/// pyo3's `StreamAccumulator.feed`, for every other call.
static ACC_FEED: OnceLock<Method> = OnceLock::new();
/// pyo3's `PartialJSON.feed`, for every other call.
static PARTIAL_FEED: OnceLock<Method> = OnceLock::new();

/// Puts the fast `feed` methods in front of pyo3's.
pub fn install(py: Python<'_>) -> PyResult<()> {
    in_front(&py.get_type::<PyStreamAccumulator>(), &ACC_FEED, acc_feed)?;
    in_front(&py.get_type::<PyPartialJson>(), &PARTIAL_FEED, partial_feed)
}

/// Puts `fast` in front of the `feed` pyo3 made for `cls`, which goes into `general`.
fn in_front(cls: &Bound<'_, PyType>, general: &OnceLock<Method>, fast: Method) -> PyResult<()> {
    let py = cls.py();
    let name = pyo3::intern!(py, "feed");
    let descr = cls.getattr(name)?;
    // SAFETY: `feed` is pyo3's method descriptor (its type is checked just below before
    // its layout is read); the method def it points to lives as long as the type.
    unsafe {
        if ffi::Py_TYPE(descr.as_ptr()) != ptr::addr_of_mut!(ffi::PyMethodDescr_Type) {
            return Ok(());
        }
        let def = (*descr.as_ptr().cast::<ffi::PyMethodDescrObject>()).d_method;
        if (*def).ml_flags != ffi::METH_FASTCALL | ffi::METH_KEYWORDS {
            return Ok(());
        }
        if general.set((*def).ml_meth.PyCFunctionFastWithKeywords).is_err() {
            return Ok(()); // installed already
        }
        let ours = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: (*def).ml_name,
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunctionFastWithKeywords: fast,
            },
            ml_flags: (*def).ml_flags,
            ml_doc: (*def).ml_doc,
        }));
        let method = Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMethod(cls.as_type_ptr(), ours))?;
        // The type's dict directly: pyo3's classes refuse attribute assignment.
        let dict = Bound::from_borrowed_ptr(py, (*cls.as_type_ptr()).tp_dict);
        dict.set_item(name, method)?;
        ffi::PyType_Modified(cls.as_type_ptr());
    }
    Ok(())
}

/// The call to one method: `answer` with the one positional argument when there is exactly
/// one and no keyword, else (or when it declines) pyo3's method in `general`.
///
/// # Safety
/// The arguments CPython gave a `METH_FASTCALL | METH_KEYWORDS` method of the class `answer`
/// is for.
unsafe fn call(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
    general: &OnceLock<Method>,
    answer: fn(Python<'_>, *mut ffi::PyObject, *mut ffi::PyObject) -> Option<*mut ffi::PyObject>,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method from an attached thread.
    let py = unsafe { Python::assume_attached() };
    if nargs == 1 && kwnames.is_null() {
        // SAFETY: `args` holds `nargs` arguments.
        let arg = unsafe { *args };
        match std::panic::catch_unwind(|| answer(py, slf, arg)) {
            Ok(Some(result)) => return result,
            Ok(None) => {}
            Err(_) => {
                // A bug, raised as pyo3 raises one; not read again by pyo3's method, as the
                // read may be half taken.
                pyo3::panic::PanicException::new_err("toolwire: panic while feeding").restore(py);
                return ptr::null_mut();
            }
        }
    }
    match general.get() {
        // SAFETY: pyo3's method, with the arguments CPython gave this one.
        Some(general) => unsafe { general(slf, args, nargs, kwnames) },
        None => ptr::null_mut(),
    }
}

/// A `METH_FASTCALL | METH_KEYWORDS` method that answers through `call`.
macro_rules! fast_method {
    ($name:ident, $general:ident, $answer:ident) => {
        unsafe extern "C" fn $name(
            slf: *mut ffi::PyObject,
            args: *const *mut ffi::PyObject,
            nargs: ffi::Py_ssize_t,
            kwnames: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            // SAFETY: installed on the class `$answer` is for; CPython's arguments.
            unsafe { call(slf, args, nargs, kwnames, &$general, $answer) }
        }
    };
}

fast_method!(acc_feed, ACC_FEED, acc_answer);
fast_method!(partial_feed, PARTIAL_FEED, partial_answer);

/// `slf` as a `T` and the argument, borrowed for the call.
///
/// # Safety
/// References the caller holds for the call; `slf` is a `T` (the method descriptor checked it).
unsafe fn borrowed<'a, T>(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    data: *mut ffi::PyObject,
) -> (Borrowed<'a, '_, T>, Borrowed<'a, '_, PyAny>) {
    // SAFETY: as the caller promises.
    unsafe {
        (
            Borrowed::from_ptr(py, slf).cast_unchecked::<T>(),
            Borrowed::from_ptr(py, data),
        )
    }
}

fn acc_answer(py: Python<'_>, slf: *mut ffi::PyObject, data: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
    // SAFETY: `call`'s arguments to a method of `StreamAccumulator`.
    let (acc, data) = unsafe { borrowed::<PyStreamAccumulator>(py, slf, data) };
    PyStreamAccumulator::feed_fast(&acc, &data)
}

fn partial_answer(py: Python<'_>, slf: *mut ffi::PyObject, data: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
    // SAFETY: `call`'s arguments to a method of `PartialJSON`.
    let (parser, data) = unsafe { borrowed::<PyPartialJson>(py, slf, data) };
    PyPartialJson::feed_str(&parser, &data)
}
