//! Cross-crate integration tests live in `tests/tests/`: one test binary (`main.rs`)
//! declaring a module per area. Shared helpers are in `tests/tests/support.rs`.
