//! The DNS side road: an authoritative DNS server for every Cloud Map DNS namespace (private and
//! public, every account and region), answering from the same store as the API on each query, so a
//! change shows in DNS the moment its operation succeeds, with any number of replicas.
//!
//! Road: [`listener`] (sockets) → [`handler`] (question checks, size) → [`lookup`] (zone, name,
//! CNAME chain) → [`zones`] / [`apex`] / [`records`] (what the zone holds) → [`routing`] (which
//! records an answer carries).

pub mod apex;
pub mod handler;
pub mod listener;
pub mod lookup;
pub mod names;
pub mod records;
pub mod routing;
pub mod view;
pub mod zones;

pub use listener::{start, DnsListenerConfig, DnsServers, ListenerSpec};
pub use view::View;

/// Where the default DNS listener binds when nothing says otherwise.
pub const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:8053";

/// Parses a `--dns-listen` value: `ADDR:PORT`, or `off` (no default listener).
pub fn parse_listen(text: &str) -> Result<Option<std::net::SocketAddr>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| format!("'{text}' is not ADDR:PORT (such as {DEFAULT_DNS_LISTEN}) or off"))
}
