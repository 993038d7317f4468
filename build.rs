//! Build script: the binding reads pyo3's interpreter cfgs (`Py_GIL_DISABLED`, `Py_3_14`).

fn main() {
    #[cfg(feature = "python")]
    pyo3_build_config::use_pyo3_cfgs();
}
