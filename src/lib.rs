//! s3os: a native S3 object-store client with a C ABI.
//!
//! The engine ([`Store`], [`transfer`]) is ordinary async Rust; [`capi`] exports it to C
//! through the checks in `ffi`.

#[macro_use]
mod log;

mod attempts;
pub mod capi;
pub mod config;
mod credentials;
pub mod error;
pub(crate) mod ffi;
mod net;
mod retry;
pub mod runtime;
pub mod status;
pub mod store;
pub mod transfer;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use store::Store;
