//! End-to-end tests: the real AWS SDKs for Rust talking HTTP to the real `localplane` binary.

mod admin;
mod cli;
mod cloudmap;
mod common;
mod crash;
mod debugging;
mod dns;
mod kafkaconnect;
mod models;
mod quotas;
mod ram;
mod replicas;
mod robustness;
mod security;
mod seed;
mod sharing;
mod snapshot_compat;
mod soak;
mod sts;
