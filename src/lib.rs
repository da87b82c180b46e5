//! localplane: a local, wire-compatible AWS control plane for MSK Connect and Cloud Map.

pub mod engine;
pub mod model;
pub mod store;
pub mod wire;
