//! HTTP client settings shared by remote read and remote write, after Prometheus's
//! `remote_read`/`remote_write` HTTP client config: timeout, basic auth, bearer token (inline or
//! from a file re-read on every request) and TLS (CA file, client certificate, skipping
//! verification).

use std::path::PathBuf;
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// How to authenticate and secure requests to a remote endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// Timeout of one request (Prometheus's `remote_timeout`, 1m for read and 30s for write).
    pub timeout: Option<Duration>,
    /// `basic_auth`: user name and password.
    pub basic_auth: Option<(String, String)>,
    /// `authorization.credentials`: a bearer token.
    pub bearer_token: Option<String>,
    /// `authorization.credentials_file`: a file holding the bearer token, read on every request.
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings for `https://` URLs.
    pub tls: TlsOptions,
    /// Extra headers sent with every request.
    pub headers: Vec<(String, String)>,
}

/// `tls_config` of a Prometheus HTTP client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA certificates that verify the server (default: the Mozilla root set).
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate chain, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (`insecure_skip_verify`).
    pub insecure_skip_verify: bool,
}

/// Why a client could not be configured or a request could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://` or `https://`.
    #[error("invalid remote URL {0:?}: expected http:// or https://")]
    BadUrl(String),
    /// A file named in the options could not be read or parsed.
    #[error("{what} {path}: {reason}")]
    File {
        /// What the file was for.
        what: &'static str,
        /// The path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Both or neither of the client certificate and key were given.
    #[error("tls: cert_file and key_file must be given together")]
    CertWithoutKey,
    /// More than one authorization method was given.
    #[error("at most one of basic auth, bearer token and bearer token file may be configured")]
    TwoAuthorizations,
}

fn read_file(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::File {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Checks a remote endpoint URL.
pub fn check_url(url: &str) -> Result<(), ClientError> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') => Ok(()),
        _ => Err(ClientError::BadUrl(url.to_string())),
    }
}

/// A configured HTTP client: the agent and the per-request authorization.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) agent: ureq::Agent,
    opts: ClientOptions,
}

impl Client {
    /// Builds the agent: timeout, TLS roots and client certificate; HTTP error statuses are
    /// returned as responses, not errors, so callers can report their bodies.
    pub(crate) fn new(opts: &ClientOptions, default_timeout: Duration) -> Result<Client, ClientError> {
        let auths =
            [opts.basic_auth.is_some(), opts.bearer_token.is_some(), opts.bearer_token_file.is_some()];
        if auths.iter().filter(|&&a| a).count() > 1 {
            return Err(ClientError::TwoAuthorizations);
        }
        let mut tls = TlsConfig::builder().disable_verification(opts.tls.insecure_skip_verify);
        if let Some(path) = &opts.tls.ca_file {
            let pem = read_file("tls: ca_file", path)?;
            let certs = parse_certs(&pem).map_err(|reason| ClientError::File {
                what: "tls: ca_file",
                path: path.display().to_string(),
                reason,
            })?;
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        match (&opts.tls.cert_file, &opts.tls.key_file) {
            (Some(cert), Some(key)) => {
                let pem = read_file("tls: cert_file", cert)?;
                let chain = parse_certs(&pem).map_err(|reason| ClientError::File {
                    what: "tls: cert_file",
                    path: cert.display().to_string(),
                    reason,
                })?;
                let key_pem = read_file("tls: key_file", key)?;
                let key = PrivateKey::from_pem(&key_pem).map_err(|e| ClientError::File {
                    what: "tls: key_file",
                    path: key.display().to_string(),
                    reason: e.to_string(),
                })?;
                tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
            }
            (None, None) => {}
            _ => return Err(ClientError::CertWithoutKey),
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout.unwrap_or(default_timeout)))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .user_agent(format!("ferroprom/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { agent, opts: opts.clone() })
    }

    /// A POST to `url` with the configured headers and authorization.
    pub(crate) fn post(&self, url: &str) -> Result<ureq::RequestBuilder<ureq::typestate::WithBody>, String> {
        let mut req = self.agent.post(url);
        for (k, v) in &self.opts.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some((user, password)) = &self.opts.basic_auth {
            req = req.header(
                "Authorization",
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            );
        }
        let token = match &self.opts.bearer_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("reading bearer token file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => self.opts.bearer_token.clone(),
        };
        if let Some(token) = token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        Ok(req)
    }
}

fn parse_certs(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| e.to_string())? {
            certs.push(c);
        }
    }
    if certs.is_empty() { Err("no PEM certificate found".into()) } else { Ok(certs) }
}

/// Standard base64 with padding (for the basic-auth header).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The first 256 bytes of a failed response's body, for error messages.
pub(crate) fn body_excerpt(resp: &mut ureq::http::Response<ureq::Body>) -> String {
    use std::io::Read;
    let mut body = Vec::new();
    let _ = resp.body_mut().as_reader().take(4096).read_to_end(&mut body);
    let end = body.len().min(256);
    let text = String::from_utf8_lossy(&body[..end]);
    let text = text.trim();
    if body.len() > end { format!("{text}…") } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}
