//! Prometheus's remote storage protocols: read series from a remote-read endpoint as a
//! [`Storage`](crate::storage::Storage) ([`read::RemoteReadStorage`]) and send samples to a
//! remote-write endpoint ([`write::RemoteWriter`], plugged into the rule manager by
//! [`write::RemoteRuleStore`]). Together they run rules the way the Thanos ruler does: evaluate
//! against a remote Prometheus-compatible store, write the results back to it.
//!
//! `proto` declares the protobuf messages, `frame` the streamed-response framing, `chunk` the
//! TSDB chunk decoders (`XOR`, native histograms), `client` the HTTP client settings (timeout,
//! basic auth, bearer token, TLS), `config` the remote sections of a Prometheus config file.

pub mod chunk;
pub mod client;
pub mod config;
pub mod frame;
pub mod proto;
pub mod read;
pub mod write;

pub use client::{ClientError, ClientOptions, TlsOptions};
pub use read::{RemoteReadError, RemoteReadOptions, RemoteReadStorage};
pub use write::{RemoteRuleStore, RemoteWriteOptions, RemoteWriteStats, RemoteWriter};
