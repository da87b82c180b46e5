//! Types generated from the vendored AWS service models (see `crates/codegen`).

#[rustfmt::skip]
#[allow(clippy::all, missing_docs)]
pub mod servicediscovery;

#[rustfmt::skip]
#[allow(clippy::all, missing_docs)]
pub mod kafkaconnect;
