//! `--session PATH`: cookies, credentials and custom headers kept as JSON between runs,
//! like httpie's sessions. Cookie rules (domain, path, expiry, Secure) are cookie_store's.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read session {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("session {path} is not a netkit session file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write session {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Session files are small; a larger one is not ours.
const MAX_SESSION_FILE: u64 = 16 << 20;

/// Credentials as given, so that digest auth can answer new challenges next time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAuth {
    #[serde(rename = "type")]
    pub kind: String,
    pub raw_auth: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SessionFile {
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<SavedAuth>,
    #[serde(default)]
    pub cookies: Vec<cookie_store::Cookie<'static>>,
}

/// A session loaded into memory: cookies in a store, the rest as it was.
pub struct Session {
    pub headers: std::collections::BTreeMap<String, String>,
    pub auth: Option<SavedAuth>,
    pub cookies: cookie_store::CookieStore,
}

impl Session {
    pub fn empty() -> Session {
        Session {
            headers: Default::default(),
            auth: None,
            cookies: cookie_store::CookieStore::default(),
        }
    }

    /// Loads `path`; a missing file is a new, empty session.
    pub fn load(path: &Path) -> Result<Session, SessionError> {
        use std::io::Read;
        let read = |source| SessionError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Session::empty()),
            Err(e) => return Err(read(e)),
        };
        let mut text = Vec::new();
        file.take(MAX_SESSION_FILE)
            .read_to_end(&mut text)
            .map_err(read)?;
        let saved: SessionFile =
            serde_json::from_slice(&text).map_err(|source| SessionError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        // Expired cookies are dropped on load.
        let cookies = cookie_store::CookieStore::from_cookies(
            saved
                .cookies
                .into_iter()
                .map(Ok::<_, std::convert::Infallible>),
            false,
        )
        .unwrap_or_default();
        Ok(Session {
            headers: saved.headers,
            auth: saved.auth,
            cookies,
        })
    }

    /// Writes the session atomically (temp file, then rename), readable by its owner
    /// only: it may hold credentials.
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let write = |source| SessionError::Write {
            path: path.to_path_buf(),
            source,
        };
        let file = SessionFile {
            headers: self.headers.clone(),
            auth: self.auth.clone(),
            // Session cookies (no expiry) are kept too: that is what a session is for.
            cookies: self.cookies.iter_unexpired().cloned().collect(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| write(e.into()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let temp = super::sibling_temp(path);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(write)?;
        let written = out
            .write_all(&json)
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| std::fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(write(e));
        }
        Ok(())
    }
}
