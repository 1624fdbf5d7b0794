//! Which bearer token a verb sends: `GPTSWEEP_TOKEN`, else the file named by `--token-file`
//! (`GPTSWEEP_TOKEN_FILE`): either a plain token (`worker.token`, `client.token`) or the
//! coordinator's `access.json`, from which the verb's role is picked.

use std::path::Path;

use gptsweep_coordinator::access::{Access, MAX_TOKEN_CHARS, Role};
use gptsweep_gpt::input_file::{MAX_TOKEN_FILE_BYTES, read_bounded_text};

use super::bad_input::{BadInput, ensure};

/// The token for `role`, if one is configured.
pub fn resolve(file: Option<&Path>, role: Role) -> anyhow::Result<Option<String>> {
    if let Ok(t) = std::env::var("GPTSWEEP_TOKEN")
        && !t.trim().is_empty()
    {
        let token = t.trim();
        not_too_long("GPTSWEEP_TOKEN", token)?;
        return Ok(Some(token.to_string()));
    }
    let Some(file) = file else { return Ok(None) };
    let text = read_bounded_text("--token-file", file, MAX_TOKEN_FILE_BYTES)?;
    if text.trim_start().starts_with('{') {
        let access = Access::parse(&text)
            .map_err(|e| BadInput(format!("--token-file {}: {e}", file.display())))?;
        return Ok(Some(match role {
            Role::Worker => access.worker_token,
            Role::Client => access.client_token,
        }));
    }
    let token = text.trim();
    ensure(
        !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic()),
        || {
            format!(
                "--token-file {}: expected a token (printable ASCII, no spaces) or an access.json",
                file.display()
            )
        },
    )?;
    not_too_long(&format!("--token-file {}", file.display()), token)?;
    Ok(Some(token.to_string()))
}

/// Refuses a token too long to travel in a call's headers ([`MAX_TOKEN_CHARS`]): the
/// coordinator's HTTP/2 layer would refuse the call with a protocol error naming neither
/// the token nor its length. `source` says where it came from.
fn not_too_long(source: &str, token: &str) -> Result<(), BadInput> {
    ensure(token.len() <= MAX_TOKEN_CHARS, || {
        format!(
            "{source}: a token of {} characters is too long: at most {MAX_TOKEN_CHARS} \
             (the coordinator's tokens have 64)",
            token.len()
        )
    })
}
