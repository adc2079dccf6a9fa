//! Minqing (民情): the people's-conditions map server — the HTTP crate.
//!
//! Everything the server knows and does is `minqing-domain`; this crate puts HTTP on top
//! of it (handlers, extractors, the error → response mapping, OpenAPI, the embedded web
//! views) and holds the binary `minqing` (the CLI). It is the only crate that knows axum.
//! See ARCHITECTURE.md for the map and the invariants.

pub mod http;
