//! The HTTP client of the admin API that `localplane ops`, `reset`, `snapshot` and `seed` use against a
//! running server: which server (`--endpoint`) and the admin token to send (`--admin-token`).

use anyhow::Context;

/// The endpoint the client commands call when neither `--endpoint` nor `LOCALPLANE_ENDPOINT` says.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

/// A running server and how to reach its admin API.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminServer {
    /// The server.
    #[arg(long, env = "LOCALPLANE_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// The server's admin token (its --admin-token), sent as `Authorization: Bearer …`.
    #[arg(long, env = "LOCALPLANE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

impl AdminServer {
    /// Calls the admin API; a non-2xx answer is an error carrying its message.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
        let endpoint = &self.endpoint;
        let url = format!("{}{path}", endpoint.trim_end_matches('/'));
        let mut req = reqwest::Client::new().request(method, &url);
        if let Some(token) = &self.admin_token {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.with_context(|| {
            format!("cannot reach localplane at {endpoint} (is `localplane serve` running? --endpoint)")
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await?.to_vec();
        if status == reqwest::StatusCode::UNAUTHORIZED && self.admin_token.is_none() {
            anyhow::bail!("{url} needs the server's admin token: pass --admin-token (or LOCALPLANE_ADMIN_TOKEN)");
        }
        if !status.is_success() {
            // The admin API's errors are `{"message": …}`; show the message, else the body as sent.
            let doc: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let message = match doc.as_ref().and_then(|d| d["message"].as_str()) {
                Some(m) => m.to_string(),
                None => String::from_utf8_lossy(&bytes).into_owned(),
            };
            anyhow::bail!("{url} answered {status}: {message}");
        }
        Ok(bytes)
    }
}
