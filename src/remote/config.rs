//! The `remote_read` and `remote_write` sections of a Prometheus configuration file, read into
//! [`RemoteReadOptions`] and [`RemoteWriteOptions`]. Other top-level keys (`global`,
//! `scrape_configs`, …) are ignored, so a `prometheus.yml` can be given as it is; inside a remote
//! section, unknown keys are errors (a misspelt `bearer_token_file` must not go unnoticed), except
//! Prometheus settings that do not apply to ferroprom, which are accepted and ignored (`name`,
//! `read_recent`, `metadata_config`, …).
//!
//! ```
//! use ferroprom::remote::config::parse_remote_config;
//!
//! let cfg = parse_remote_config(r#"
//! remote_read:
//!   - url: https://prom.example.com/api/v1/read
//!     remote_timeout: 30s
//!     authorization: {credentials_file: /etc/token}
//!     tls_config: {ca_file: /etc/ca.pem}
//! remote_write:
//!   - url: https://prom.example.com/api/v1/write
//!     basic_auth: {username: ruler, password: secret}
//!     queue_config: {capacity: 50000, max_samples_per_send: 500}
//! "#)?;
//! assert_eq!(cfg.read.len(), 1);
//! assert_eq!(cfg.write[0].1.capacity, 50_000);
//! # Ok::<(), String>(())
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::remote::client::{ClientOptions, TlsOptions};
use crate::remote::read::RemoteReadOptions;
use crate::remote::write::RemoteWriteOptions;

/// The remote endpoints of a configuration file, each with its options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `remote_read` entries: URL and options.
    pub read: Vec<(String, RemoteReadOptions)>,
    /// `remote_write` entries: URL and options.
    pub write: Vec<(String, RemoteWriteOptions)>,
}

#[derive(Deserialize, Default)]
struct File {
    #[serde(default)]
    remote_read: Vec<Entry>,
    #[serde(default)]
    remote_write: Vec<Entry>,
}

/// One `remote_read` or `remote_write` entry: the HTTP client settings both have, and the
/// settings of either kind (checked to belong to the kind it is in).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    url: String,
    #[serde(default)]
    remote_timeout: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    basic_auth: Option<BasicAuth>,
    #[serde(default)]
    authorization: Option<Authorization>,
    #[serde(default)]
    bearer_token: Option<String>,
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    tls_config: Option<TlsEntry>,
    #[serde(default, rename = "name")]
    _name: Option<String>,
    // Read only; accepted and ignored.
    #[serde(default)]
    read_recent: Option<bool>,
    #[serde(default)]
    required_matchers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    filter_external_labels: Option<bool>,
    // Write only.
    #[serde(default)]
    queue_config: Option<QueueEntry>,
    #[serde(default)]
    send_exemplars: Option<bool>,
    #[serde(default)]
    send_native_histograms: Option<bool>,
    #[serde(default)]
    metadata_config: Option<serde::de::IgnoredAny>,
}

impl Entry {
    fn read_only_keys(&self) -> bool {
        self.read_recent.is_some()
            || self.required_matchers.is_some()
            || self.filter_external_labels.is_some()
    }

    fn write_only_keys(&self) -> bool {
        self.queue_config.is_some()
            || self.send_exemplars.is_some()
            || self.send_native_histograms.is_some()
            || self.metadata_config.is_some()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicAuth {
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Authorization {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    credentials: Option<String>,
    #[serde(default)]
    credentials_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsEntry {
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_verify: bool,
    #[serde(default)]
    server_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueEntry {
    #[serde(default)]
    capacity: Option<usize>,
    #[serde(default)]
    max_samples_per_send: Option<usize>,
    #[serde(default)]
    min_backoff: Option<String>,
    #[serde(default)]
    max_backoff: Option<String>,
    #[serde(default, rename = "max_shards")]
    _max_shards: Option<usize>,
    #[serde(default, rename = "min_shards")]
    _min_shards: Option<usize>,
    #[serde(default, rename = "batch_send_deadline")]
    _batch_send_deadline: Option<String>,
    #[serde(default, rename = "retry_on_http_429")]
    _retry_on_http_429: Option<bool>,
}

fn duration(what: &str, s: &str) -> Result<Duration, String> {
    crate::rules::duration::parse_duration(s).map_err(|e| format!("{what}: invalid duration {s:?}: {e}"))
}

fn client_options(h: &mut Entry) -> Result<ClientOptions, String> {
    let url = h.url.clone();
    let at = |msg: String| format!("remote {url}: {msg}");
    let mut opts = ClientOptions {
        timeout: h
            .remote_timeout
            .as_deref()
            .map(|s| duration("remote_timeout", s))
            .transpose()
            .map_err(at)?,
        headers: std::mem::take(&mut h.headers).into_iter().collect(),
        bearer_token: h.bearer_token.take(),
        bearer_token_file: h.bearer_token_file.take(),
        ..ClientOptions::default()
    };
    if let Some(b) = h.basic_auth.take() {
        let password = match (b.password, b.password_file) {
            (Some(p), None) => p,
            (None, Some(f)) => std::fs::read_to_string(&f)
                .map_err(|e| at(format!("basic_auth: password_file {}: {e}", f.display())))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            (None, None) => String::new(),
            (Some(_), Some(_)) => {
                return Err(at("basic_auth: at most one of password and password_file".into()));
            }
        };
        opts.basic_auth = Some((b.username, password));
    }
    if let Some(a) = h.authorization.take() {
        if let Some(kind) = a.kind.as_deref().filter(|k| !k.eq_ignore_ascii_case("bearer")) {
            return Err(at(format!("authorization: type {kind:?} is not supported (only Bearer)")));
        }
        if opts.bearer_token.is_some() || opts.bearer_token_file.is_some() {
            return Err(at("authorization and bearer_token/bearer_token_file are mutually exclusive".into()));
        }
        opts.bearer_token = a.credentials;
        opts.bearer_token_file = a.credentials_file;
    }
    if let Some(t) = h.tls_config.take() {
        if t.server_name.is_some() {
            return Err(at("tls_config: server_name is not supported".into()));
        }
        opts.tls = TlsOptions {
            ca_file: t.ca_file,
            cert_file: t.cert_file,
            key_file: t.key_file,
            insecure_skip_verify: t.insecure_skip_verify,
        };
    }
    Ok(opts)
}

/// Reads the remote sections of a Prometheus configuration text.
pub fn parse_remote_config(text: &str) -> Result<RemoteConfig, String> {
    let mut yaml = serde_saphyr::Options::default();
    yaml.with_snippet = false;
    let file: Option<File> = serde_saphyr::from_str_with_options(text, yaml).map_err(|e| {
        crate::rules::file::yaml_error(&e).replace(", set DuplicateKeyPolicy in Options if acceptable", "")
    })?;
    let file = file.unwrap_or_default();
    let mut cfg = RemoteConfig::default();
    for mut r in file.remote_read {
        if r.write_only_keys() {
            return Err(format!("remote {}: queue and metadata settings belong to remote_write", r.url));
        }
        let client = client_options(&mut r)?;
        cfg.read.push((r.url, RemoteReadOptions { client, ..RemoteReadOptions::default() }));
    }
    for mut w in file.remote_write {
        if w.read_only_keys() {
            return Err(format!(
                "remote {}: read_recent, required_matchers and filter_external_labels belong to remote_read",
                w.url
            ));
        }
        let mut opts =
            RemoteWriteOptions { client: client_options(&mut w)?, ..RemoteWriteOptions::default() };
        let at = |msg: String| format!("remote {}: {msg}", w.url);
        if let Some(q) = &w.queue_config {
            opts.capacity = q.capacity.unwrap_or(opts.capacity);
            opts.max_samples_per_send = q.max_samples_per_send.unwrap_or(opts.max_samples_per_send);
            if let Some(s) = &q.min_backoff {
                opts.min_backoff = duration("queue_config: min_backoff", s).map_err(at)?;
            }
            if let Some(s) = &q.max_backoff {
                opts.max_backoff = duration("queue_config: max_backoff", s).map_err(at)?;
            }
        }
        cfg.write.push((w.url, opts));
    }
    Ok(cfg)
}
