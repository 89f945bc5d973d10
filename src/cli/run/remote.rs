//! The remote endpoints of `ferroprom run`: `--remote-read`, `--remote-write` and the remote
//! sections of `--remote-config`, resolved to at most one remote-read store and one remote-write
//! sink.

use std::path::Path;

use ferroprom::remote::config::{RemoteConfig, parse_remote_config};
use ferroprom::remote::{RemoteReadOptions, RemoteReadStorage, RemoteWriteOptions, RemoteWriter};

/// The configured endpoints.
pub(in crate::cli) struct Remotes {
    pub(in crate::cli) read: Option<RemoteReadStorage>,
    pub(in crate::cli) write: Option<RemoteWriter>,
}

/// Picks the one entry of a kind: the flag's URL (with the config file's options for that URL, if
/// it has them) or the config file's only entry.
fn pick<O: Default + Clone>(
    kind: &str,
    flag: Option<&str>,
    entries: &[(String, O)],
) -> Result<Option<(String, O)>, String> {
    match flag {
        Some(url) => {
            let opts = entries.iter().find(|(u, _)| u == url).map(|(_, o)| o.clone()).unwrap_or_default();
            if entries.iter().any(|(u, _)| u != url) {
                return Err(format!(
                    "--remote-{kind} {url} and the config file's remote_{kind} differ; give one"
                ));
            }
            Ok(Some((url.to_string(), opts)))
        }
        None => match entries {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            _ => Err(format!(
                "only one remote_{kind} endpoint is supported, the config file has {}",
                entries.len()
            )),
        },
    }
}

/// Builds the endpoints; `external_labels` are added to written series that lack them.
pub(in crate::cli) fn remotes(
    read: Option<&str>,
    write: Option<&str>,
    config: Option<&Path>,
    external_labels: &[(String, String)],
) -> Result<Remotes, String> {
    let cfg = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            parse_remote_config(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => RemoteConfig::default(),
    };
    let read = match pick::<RemoteReadOptions>("read", read, &cfg.read)? {
        Some((url, opts)) => Some(RemoteReadStorage::new(&url, opts).map_err(|e| e.to_string())?),
        None => None,
    };
    let write = match pick::<RemoteWriteOptions>("write", write, &cfg.write)? {
        Some((url, mut opts)) => {
            opts.external_labels = external_labels.to_vec();
            Some(RemoteWriter::new(&url, opts).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    Ok(Remotes { read, write })
}
