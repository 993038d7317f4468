//! `StreamAccumulator.feed` for a read that only continues a line.
//!
//! Most short network reads end inside a line: the decoder keeps their bytes and there is
//! nothing to report. For such a read the work is a copy of a few dozen bytes, and the method
//! call around it (argument parsing, the GIL count, the reference pool, the panic guard) cost
//! several times more. `install` puts a plain CPython method in front of pyo3's: it takes the
//! call with one positional `bytes` argument when the accumulator keeps it, and hands every
//! other call, unchanged, to the method pyo3 made. Not on the stable ABI, whose method
//! descriptors are opaque: there the pyo3 method stays.

use std::ptr;
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use super::accumulator::PyStreamAccumulator;

/// pyo3's `feed` (arguments parsed, GIL counted, panics raised), for every other call.
static GENERAL: OnceLock<ffi::PyCFunctionFastWithKeywords> = OnceLock::new();

/// Puts the short-read method in front of pyo3's `feed` on `cls`.
pub fn install(cls: &Bound<'_, PyType>) -> PyResult<()> {
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
        if GENERAL.set((*def).ml_meth.PyCFunctionFastWithKeywords).is_err() {
            return Ok(()); // installed already
        }
        let ours = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: (*def).ml_name,
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunctionFastWithKeywords: feed,
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

/// The method: a kept read returns the accumulator's empty events list; anything else goes to
/// pyo3's method.
unsafe extern "C" fn feed(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method from an attached thread.
    let py = unsafe { Python::assume_attached() };
    if nargs == 1 && kwnames.is_null() {
        // SAFETY: the method descriptor checked that `slf` is a `StreamAccumulator`; `args`
        // holds `nargs` arguments.
        let kept = std::panic::catch_unwind(|| unsafe { kept(py, slf, *args) });
        if let Ok(Some(list)) = kept {
            return list;
        }
        // A panic there (a bug) is left for pyo3's method to meet again and raise.
    }
    match GENERAL.get() {
        // SAFETY: pyo3's method, with the arguments CPython gave this one.
        Some(general) => unsafe { general(slf, args, nargs, kwnames) },
        None => ptr::null_mut(),
    }
}

/// The accumulator's events list (a new reference) when it keeps `data` (a `bytes` read with
/// no line end, `SseDecoder::keep_inside_line`); `None`: nothing done.
unsafe fn kept(py: Python<'_>, slf: *mut ffi::PyObject, data: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
    // SAFETY: borrowed references the caller holds for the call; `slf`'s type was checked.
    let (acc, data) = unsafe {
        (
            Borrowed::from_ptr(py, slf).cast_unchecked::<PyStreamAccumulator>(),
            Borrowed::from_ptr(py, data),
        )
    };
    let bytes = data.cast::<PyBytes>().ok()?;
    acc.get().keep_short_read(py, bytes.as_bytes())
}
