//! The `hcp` server, in layers that depend downwards only (ARCHITECTURE.md): the application
//! (`app`: one module per use case, the scope guard, the platform's wiring), the background
//! workers (`workers`), the HTTP transport (`http`) and the binary's commands (`run`). The demo
//! city and the province simulator (`demo`) sit beside them, outside the production path: they
//! are compiled only with the `demo` feature (`make demo` and the tests turn it on).

pub mod app;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http;
pub mod run;
pub mod workers;
