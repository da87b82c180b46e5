//! localplane: a local, wire-compatible AWS control plane for MSK Connect and Cloud Map.
#![warn(missing_docs)]

pub mod admin;
pub mod admin_client;
pub mod app;
pub mod auth;
pub mod cli;
pub mod cloudmap;
pub mod config;
pub mod console_state;
pub mod dns;
pub mod engine;
pub mod fuzzing;
pub mod health;
pub mod kept;
pub mod logbuf;
pub mod logfmt;
pub mod metrics;
pub mod model;
pub mod mskconnect;
pub mod ops_view;
pub mod paging;
pub mod quotas;
pub mod ram;
pub mod registry;
pub mod resource_tree;
pub mod seed;
pub mod server;
pub mod services;
pub mod shutdown;
pub mod store;
pub mod sts;
pub mod tags;
pub mod wire;
