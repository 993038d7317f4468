//! The Python binding: conversion, classes and errors only; all logic lives in the core.

mod accumulator;
mod errors;
mod events;
mod fast_class;
#[cfg(not(any(Py_LIMITED_API, PyPy)))]
mod fast_feed;
mod gil;
mod partial;
mod value;

use pyo3::prelude::*;

/// toolwire's native module. Import names from `toolwire`, not from here.
#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::accumulator::PyStreamAccumulator;
    #[pymodule_export]
    use super::events::{
        Finish, ProviderError, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta, ToolCallFinished, ToolCallReady,
        ToolCallStarted, Usage,
    };
    #[pymodule_export]
    use super::partial::{parse_partial, PyPartialJson};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::errors::register(m)?;
        #[cfg(not(any(Py_LIMITED_API, PyPy)))]
        super::fast_feed::install(m.py())?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add(
            "build_profile",
            if cfg!(debug_assertions) { "debug" } else { "release" },
        )?;
        Ok(())
    }
}
