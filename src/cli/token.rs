//! Which bearer token a verb sends: `GPTSWEEP_TOKEN`, else the file named by `--token-file`
//! (`GPTSWEEP_TOKEN_FILE`): either a plain token (`worker.token`, `client.token`) or the
//! coordinator's `access.json`, from which the verb's role is picked.

use std::path::Path;

use gptsweep_coordinator::access::{Access, Role};

/// The token for `role`, if one is configured.
pub fn resolve(file: Option<&Path>, role: Role) -> anyhow::Result<Option<String>> {
    if let Ok(t) = std::env::var("GPTSWEEP_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(Some(t.trim().to_string()));
    }
    let Some(file) = file else { return Ok(None) };
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("--token-file {}: {e}", file.display()))?;
    if let Ok(access) = serde_json::from_str::<Access>(&text) {
        return Ok(Some(match role {
            Role::Worker => access.worker_token,
            Role::Client => access.client_token,
        }));
    }
    let token = text.trim();
    anyhow::ensure!(
        !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic()),
        "--token-file {}: expected a token or an access.json",
        file.display()
    );
    Ok(Some(token.to_string()))
}
