//! The uniffi bindings generator, built from the same `uniffi` version as `client-ffi` (pinned
//! with `=` in the workspace), so generator and library always agree on the metadata contract.
//!
//! `cargo run -p uniffi-bindgen -- generate <libclient_ffi.so> --language kotlin --out-dir <dir> --no-format`
//! (`cargo xtask bindings` runs it for Kotlin and Swift).

fn main() {
    uniffi::uniffi_bindgen_main()
}
