//! Who may call what. On first start the coordinator writes `<state>/access.json` (and the
//! same two tokens as `worker.token` and `client.token`), readable by its owner only. Every
//! call must carry `authorization: Bearer <token>`: the worker token opens the Workers
//! service, the client token the Clients service. No token or an unknown one is
//! UNAUTHENTICATED; the other role's token is PERMISSION_DENIED. Tokens are compared in
//! constant time. The worker token is shared by every worker; which worker calls is told
//! by its own key, past this gate ([`crate::worker_keys`]).

use std::path::Path;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};

use gptsweep_proto::{AUTHORIZATION_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};

use crate::error::{CoordinatorError, Result};

/// The two tokens of a coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Opens the Workers service.
    pub worker_token: String,
    /// Opens the Clients service.
    pub client_token: String,
}

/// Which service a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Register, lease, report, checkpoints.
    Worker,
    /// Submit, list, cancel.
    Client,
}

fn new_token() -> String {
    hex::encode(rand::rng().random::<[u8; 32]>())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |source| CoordinatorError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("partial");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The fewest characters a token may have: a short token can be guessed, and one
/// coordinator's tokens open every sweep and every worker's lease. A generated token has 64.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The most characters a token may have: it travels in a header of every call, and an
/// HTTP/2 server refuses headers past a few KiB (the coordinator's limit is 16 KiB for all
/// of a call's headers) with a protocol error that names no token.
pub const MAX_TOKEN_CHARS: usize = 4096;

impl Access {
    /// Reads and checks `<dir>/access.json` if there is one; `None` when there is none
    /// yet. Changes nothing, so a coordinator can refuse a bad access file before it
    /// creates anything in the state directory (its database, lock or folders).
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join("access.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = gptsweep_core::input_file::read_bounded_text(
            "access file",
            &path,
            gptsweep_core::input_file::MAX_TOKEN_FILE_BYTES,
        )
        .map_err(|e| match e {
            gptsweep_core::GptError::Io { path, source } => CoordinatorError::Io { path, source },
            other => CoordinatorError::Invalid(other.to_string()),
        })?;
        Self::parse(&text)
            .map(Some)
            .map_err(|e| CoordinatorError::Invalid(format!("{}: {e}", path.display())))
    }

    /// Reads `<dir>/access.json`, creating it (and the token files) on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        if let Some(access) = Self::load(dir)? {
            return Ok(access);
        }
        let access = Self {
            worker_token: new_token(),
            client_token: new_token(),
        };
        write_private(&dir.join("worker.token"), access.worker_token.as_bytes())?;
        write_private(&dir.join("client.token"), access.client_token.as_bytes())?;
        write_private(
            &dir.join("access.json"),
            serde_json::to_string_pretty(&access)
                .expect("serialises")
                .as_bytes(),
        )?;
        Ok(access)
    }
}

impl Access {
    /// The tokens of an `access.json` text: both present, non-empty, printable ASCII
    /// without spaces, [`MIN_TOKEN_CHARS`] to [`MAX_TOKEN_CHARS`] long, and different from each other
    /// (else one token would open both services). The error says which rule broke.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let access: Self = serde_json::from_str(text).map_err(|e| {
            format!("not an access file ({{\"worker_token\": ..., \"client_token\": ...}}): {e}")
        })?;
        for (key, token) in [
            ("worker_token", &access.worker_token),
            ("client_token", &access.client_token),
        ] {
            if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
                return Err(format!(
                    "{key}: {token:?} must be a non-empty token of printable ASCII without spaces"
                ));
            }
            if token.len() > MAX_TOKEN_CHARS {
                return Err(format!(
                    "{key}: a token of {} characters is too long: at most {MAX_TOKEN_CHARS}",
                    token.len()
                ));
            }
            if token.len() < MIN_TOKEN_CHARS {
                return Err(format!(
                    "{key}: a token of {} character{} is too short: tokens need at least \
                     {MIN_TOKEN_CHARS} (make one with `openssl rand -hex 32`)",
                    token.len(),
                    if token.len() == 1 { "" } else { "s" }
                ));
            }
        }
        if access.worker_token == access.client_token {
            return Err(
                "worker_token and client_token are equal: the two roles need different tokens"
                    .into(),
            );
        }
        Ok(access)
    }
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The check every call passes first: protocol version, then token and role.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The service this gate guards.
    pub role: Role,
    /// The tokens.
    pub access: Arc<Access>,
}

impl tonic::service::Interceptor for Gate {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let theirs = req
            .metadata()
            .get(PROTOCOL_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        if theirs != PROTOCOL_VERSION.to_string() {
            return Err(tonic::Status::failed_precondition(format!(
                "protocol version mismatch: the caller speaks {theirs}, this coordinator speaks {PROTOCOL_VERSION}; use the same gptsweep release on both ends"
            )));
        }
        let token = req
            .metadata()
            .get(AUTHORIZATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| tonic::Status::unauthenticated("no bearer token: pass --token-file (the coordinator's access.json, worker.token or client.token)"))?;
        let (mine, other) = match self.role {
            Role::Worker => (&self.access.worker_token, &self.access.client_token),
            Role::Client => (&self.access.client_token, &self.access.worker_token),
        };
        if constant_time_eq(token.as_bytes(), mine.as_bytes()) {
            Ok(req)
        } else if constant_time_eq(token.as_bytes(), other.as_bytes()) {
            Err(tonic::Status::permission_denied(match self.role {
                Role::Worker => {
                    "a client token cannot call the Workers service; workers use worker.token"
                }
                Role::Client => {
                    "a worker token cannot call the Clients service; clients use client.token"
                }
            }))
        } else {
            Err(tonic::Status::unauthenticated("invalid token"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    fn req(token: Option<&str>, version: &str) -> tonic::Request<()> {
        let mut r = tonic::Request::new(());
        r.metadata_mut()
            .insert(PROTOCOL_HEADER, version.parse().unwrap());
        if let Some(t) = token {
            r.metadata_mut()
                .insert(AUTHORIZATION_HEADER, format!("Bearer {t}").parse().unwrap());
        }
        r
    }

    #[test]
    fn an_access_file_with_empty_or_equal_tokens_is_refused() {
        let e = Access::parse(r#"{"worker_token": "", "client_token": "c"}"#).unwrap_err();
        assert!(
            e.starts_with("worker_token: \"\" must be a non-empty token"),
            "{e}"
        );
        let e = Access::parse(r#"{"worker_token": "wwwwwwwwwwwwwwww", "client_token": "a b"}"#)
            .unwrap_err();
        assert!(e.starts_with("client_token:"), "{e}");
        let e = Access::parse(r#"{"worker_token": "w", "client_token": "cccccccccccccccc"}"#)
            .unwrap_err();
        assert!(
            e.starts_with("worker_token: a token of 1 character is too short"),
            "{e}"
        );
        let same = r#"{"worker_token": "tttttttttttttttt", "client_token": "tttttttttttttttt"}"#;
        let e = Access::parse(same).unwrap_err();
        assert!(e.contains("are equal"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("access.json"), same).unwrap();
        let e = Access::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("access.json") && e.contains("are equal"), "{e}");
        assert!(
            Access::parse(
                r#"{"worker_token": "wwwwwwwwwwwwwwww", "client_token": "cccccccccccccccc"}"#
            )
            .is_ok()
        );
    }

    #[test]
    fn tokens_are_created_once_private_and_checked_by_role() {
        let dir = tempfile::tempdir().unwrap();
        let a = Access::load_or_create(dir.path()).unwrap();
        assert_eq!(a, Access::load_or_create(dir.path()).unwrap());
        assert_ne!(a.worker_token, a.client_token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("access.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let v = PROTOCOL_VERSION.to_string();
        let mut gate = Gate {
            role: Role::Worker,
            access: Arc::new(a.clone()),
        };
        assert!(gate.call(req(Some(&a.worker_token), &v)).is_ok());
        assert_eq!(
            gate.call(req(Some(&a.client_token), &v))
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            gate.call(req(Some("nope"), &v)).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            gate.call(req(None, &v)).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let err = gate.call(req(Some(&a.worker_token), "7")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert!(err.message().contains(&format!(
            "the caller speaks 7, this coordinator speaks {PROTOCOL_VERSION}"
        )));
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
    }
}
