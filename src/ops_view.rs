//! `localplane ops list` and `localplane ops watch`: the operations of both services of a running
//! server, as a table with a progress bar per step.

use crate::admin_client::AdminServer;
use crate::engine::OperationView;
use std::fmt::Write as _;
use std::time::Duration;

async fn fetch(server: &AdminServer) -> anyhow::Result<Vec<OperationView>> {
    let body = server.call(reqwest::Method::GET, "/_localplane/operations", None).await?;
    #[derive(serde::Deserialize)]
    struct Listing {
        operations: Vec<OperationView>,
    }
    let listing: Listing = serde_json::from_slice(&body)?;
    Ok(listing.operations)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn bar(state: &str, tick: usize) -> String {
    const WIDTH: usize = 12;
    match state {
        "COMPLETED" => "#".repeat(WIDTH),
        "FAILED" => "x".repeat(WIDTH),
        "CANCELLED" => "-".repeat(WIDTH),
        "IN_PROGRESS" => {
            let filled = (tick % WIDTH) + 1;
            format!("{}{}", "#".repeat(filled), " ".repeat(WIDTH - filled))
        }
        _ => " ".repeat(WIDTH),
    }
}

fn short(resource: &str) -> String {
    // ARNs are long: keep the part after the resource type.
    match resource.split_once(":connector/").or_else(|| resource.split_once(":custom-plugin/")) {
        Some((_, rest)) => rest.to_string(),
        None => resource.to_string(),
    }
}

/// Renders the table; `tick` animates the bars of steps in progress.
pub fn render(ops: &[OperationView], tick: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<17} {:<31} {:<40} {:<21} {:>8}", "SERVICE", "TYPE", "RESOURCE", "STATE", "ELAPSED");
    if ops.is_empty() {
        let _ = writeln!(out, "(no operations yet)");
    }
    let now = now_ms();
    for op in ops {
        let elapsed = op.ended_ms.unwrap_or(now) - op.created_ms;
        let _ = writeln!(
            out,
            "{:<17} {:<31} {:<40} {:<21} {:>7.1}s",
            op.service,
            op.operation_type,
            short(&op.resource),
            op.state,
            elapsed as f64 / 1000.0
        );
        let _ = write!(out, "    id: {}", op.id);
        match (&op.account, &op.acting_account) {
            (Some(a), Some(by)) => {
                let _ = write!(out, "  account: {a} (asked by {by})");
            }
            (Some(a), None) => {
                let _ = write!(out, "  account: {a}");
            }
            _ => {}
        }
        let _ = writeln!(out);
        for step in &op.steps {
            let _ = writeln!(out, "    {:<31} [{}] {}", step.name, bar(&step.state, tick), step.state);
        }
        if let Some(code) = &op.error_code {
            let _ = writeln!(out, "    error: {code}");
        }
        if let Some(s) = &op.stuck {
            let next = (s.retry_at_ms - now).max(0) as f64 / 1000.0;
            let _ = writeln!(out, "    stuck: {} failed tries, next in {next:.1}s: {}", s.attempts, s.error);
        }
    }
    out
}

/// `localplane ops list`.
pub async fn list(server: &AdminServer, json: bool) -> anyhow::Result<()> {
    let ops = fetch(server).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "operations": ops }))?);
    } else {
        print!("{}", render(&ops, 0));
    }
    Ok(())
}

/// `localplane ops watch`: redraws until Ctrl-C.
pub async fn watch(server: &AdminServer, interval_ms: u64) -> anyhow::Result<()> {
    let endpoint = &server.endpoint;
    let mut tick = 0usize;
    loop {
        let screen = match fetch(server).await {
            Ok(ops) => render(&ops, tick),
            Err(e) => format!("{e:#}\n(retrying)\n"),
        };
        print!("\x1b[2J\x1b[H localplane operations at {endpoint} (Ctrl-C to quit)\n\n{screen}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        tick += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(interval_ms.max(50))) => {}
            _ = tokio::signal::ctrl_c() => {
                println!();
                return Ok(());
            }
        }
    }
}
