//! Event objects made and freed without pyo3's generic path.
//!
//! A read that ends a line in short reads makes about one event, and the events of 64-byte
//! reads were made and freed at ~500 instructions each by pyo3: `Py::new` through its
//! initializer and the freelist's lock, and a `tp_dealloc` trampoline that counts the GIL in
//! thread-local storage, drains pyo3's reference pool and looks the type up. Here an event is
//! the type's `tp_alloc` with the value written where pyo3 keeps it, and its `tp_dealloc`
//! releases the fields at once (as `Bound`s: a `Py` dropped where pyo3 does not count the GIL
//! goes to its pool instead) and hands the memory to the type's `tp_free`.
//!
//! Where pyo3 keeps the value is read off the first object, which pyo3 makes; the type must be
//! one pyo3 lays out as the value after the object header and nothing else (frozen: no borrow
//! flag; no `__dict__`, weak references or garbage collection), else pyo3's path stays. Not on
//! the stable ABI, whose objects are opaque, nor on PyPy.
// There the layout is never read: `new_object` is `Py::new`.
#![cfg_attr(any(Py_LIMITED_API, PyPy), allow(dead_code))]

use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::{PyClass, PyClassInitializer};

/// Fields released at once, with the thread attached (see the module's doc).
pub trait Release {
    fn release(self, py: Python<'_>);
}

impl<T> Release for Py<T> {
    fn release(self, py: Python<'_>) {
        drop(self.into_bound(py));
    }
}

impl<T> Release for Option<Py<T>> {
    fn release(self, py: Python<'_>) {
        if let Some(value) = self {
            value.release(py);
        }
    }
}

impl Release for u32 {
    fn release(self, _: Python<'_>) {}
}

impl Release for usize {
    fn release(self, _: Python<'_>) {}
}

impl Release for &'static str {
    fn release(self, _: Python<'_>) {}
}

/// A class whose objects `new_object` makes.
pub trait FastClass: PyClass<Frozen = True> + Into<PyClassInitializer<Self>> + Release + Sync {
    /// Where this class's objects keep their value, once known.
    fn layout() -> &'static Layout;
}

/// The object of `value`, as `Py::new` makes it.
pub fn new_object<T: FastClass>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>> {
    #[cfg(not(any(Py_LIMITED_API, PyPy)))]
    if let Some(Some(place)) = T::layout().0.get() {
        return fast::make(py, place, value);
    }
    let obj = Py::new(py, value)?.into_any();
    #[cfg(not(any(Py_LIMITED_API, PyPy)))]
    T::layout().0.get_or_init(|| fast::install::<T>(py, &obj));
    Ok(obj)
}

/// Where a class's objects keep their value: `None` inside when pyo3's path stays.
pub struct Layout(std::sync::OnceLock<Option<Place>>);

/// A class's type object and the offset of the value in its objects.
pub struct Place {
    ty: usize,
    offset: usize,
}

impl Layout {
    pub const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }
}

#[cfg(not(any(Py_LIMITED_API, PyPy)))]
mod fast {
    use std::ptr;

    use pyo3::ffi;
    use pyo3::prelude::*;

    use super::{FastClass, Place};

    /// The value's offset in `first` (pyo3 made it), and this module's `tp_dealloc` on the
    /// type, when the type is laid out as the module's doc says.
    pub(super) fn install<T: FastClass>(py: Python<'_>, first: &Py<PyAny>) -> Option<Place> {
        let obj = first.bind(py);
        let value = obj.cast::<T>().ok()?.get();
        let offset = ptr::from_ref(value) as usize - obj.as_ptr() as usize;
        // SAFETY: the type of a live object, read and written with the thread attached, once
        // (the `OnceLock`), before `new_object` makes an object of its own. Objects pyo3 made
        // before (on other threads, without the GIL, maybe at this moment) are freed by
        // either `tp_dealloc`: both read pyo3's layout and free through `tp_free`.
        unsafe {
            let ty = ffi::Py_TYPE(obj.as_ptr());
            let flags = ffi::PyType_GetFlags(ty);
            let plain = flags & ffi::Py_TPFLAGS_HAVE_GC == 0
                && flags & ffi::Py_TPFLAGS_HEAPTYPE != 0
                && (*ty).tp_dictoffset == 0
                && (*ty).tp_weaklistoffset == 0
                && usize::try_from((*ty).tp_basicsize).ok()? == offset + std::mem::size_of::<T>()
                && (*ty).tp_alloc.is_some()
                && (*ty).tp_free.is_some();
            if !plain {
                return None;
            }
            (*ty).tp_dealloc = Some(dealloc::<T>);
            Some(Place {
                ty: ty as usize,
                offset,
            })
        }
    }

    /// A new object of `T`'s type holding `value` at `offset`.
    pub(super) fn make<T: FastClass>(py: Python<'_>, place: &Place, value: T) -> PyResult<Py<PyAny>> {
        let ty = place.ty as *mut ffi::PyTypeObject;
        // SAFETY: `install` checked the type's layout: `tp_alloc` returns a zeroed object of
        // `tp_basicsize` bytes, the value's room at `offset`, which is written once, before the
        // object is seen.
        unsafe {
            let Some(alloc) = (*ty).tp_alloc else {
                unreachable!("install checked tp_alloc")
            };
            let obj = alloc(ty, 0);
            if obj.is_null() {
                value.release(py);
                return Err(PyErr::fetch(py));
            }
            ptr::write(obj.cast::<u8>().add(place.offset).cast::<T>(), value);
            Ok(Bound::from_owned_ptr(py, obj).unbind())
        }
    }

    /// `tp_dealloc` of `T`'s type: its value released, the memory to `tp_free`, the type's
    /// reference (a heap type's object holds one) dropped.
    unsafe extern "C" fn dealloc<T: FastClass>(obj: *mut ffi::PyObject) {
        // SAFETY: CPython calls `tp_dealloc` with the thread attached, on an object of this
        // type (whose value `install` found at this offset) that nothing references any more.
        unsafe {
            let py = Python::assume_attached();
            let Some(Some(place)) = T::layout().0.get() else {
                unreachable!("installed with its place")
            };
            let ty = ffi::Py_TYPE(obj);
            ptr::read(obj.cast::<u8>().add(place.offset).cast::<T>()).release(py);
            if let Some(free) = (*ty).tp_free {
                free(obj.cast());
            }
            ffi::Py_DECREF(ty.cast());
        }
    }
}
