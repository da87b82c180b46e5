//! The HTTP client of the admin API that `localplane ops`, `reset` and `snapshot` use against a
//! running server (with `LOCALPLANE_ADMIN_TOKEN` as the bearer token when set).

use anyhow::Context;

/// Calls the admin API of a running server; a non-2xx answer is an error carrying its message.
pub async fn call(
    method: reqwest::Method,
    endpoint: &str,
    path: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    let mut req = reqwest::Client::new().request(method, &url);
    if let Ok(token) = std::env::var("LOCALPLANE_ADMIN_TOKEN") {
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
    if !status.is_success() {
        anyhow::bail!("{url} answered {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(bytes)
}
