//! End-to-end tests: the real AWS SDKs for Rust talking HTTP to the real `localplane` binary.

mod cloudmap;
mod common;
mod models;
