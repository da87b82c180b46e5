//! DNS listeners: UDP and TCP sockets on one address each, served by hickory-server with a
//! [`DnsHandler`] for the listener's view. A listener the user asked for must bind or `serve` stops
//! with the reason; the built-in default one steps aside with a warning when its port is taken.

use super::handler::DnsHandler;
use super::view::View;
use crate::store::Store;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// How long a TCP client may stay silent before its connection is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection.
const TCP_RESPONSE_QUEUE: usize = 32;

/// One `[[dns_listeners]]` entry of the configuration file: an address and the view it serves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsListenerConfig {
    /// `listen = "127.0.0.1:8054"` (UDP and TCP).
    pub listen: SocketAddr,
    /// `account = "123456789012"`: only this account's namespaces.
    pub account: Option<String>,
    /// `region = "us-east-1"`: only this region's namespaces.
    pub region: Option<String>,
    /// `vpc = "vpc-1"`: only the private namespaces of this VPC (plus every public one).
    pub vpc: Option<String>,
}

impl DnsListenerConfig {
    /// The listener this entry asks for (a configured listener must bind).
    pub fn to_spec(&self) -> ListenerSpec {
        ListenerSpec {
            listen: self.listen,
            view: View { account: self.account.clone(), region: self.region.clone(), vpc: self.vpc.clone() },
            required: true,
        }
    }
}

/// A DNS listener to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// UDP and TCP address.
    pub listen: SocketAddr,
    /// The namespaces it answers for.
    pub view: View,
    /// Whether failing to bind stops the start (true unless it is the built-in default).
    pub required: bool,
}

/// The running DNS listeners; dropping it stops them.
pub struct DnsServers {
    servers: Vec<hickory_server::Server<DnsHandler>>,
    /// The addresses actually served.
    pub addresses: Vec<SocketAddr>,
}

impl DnsServers {
    /// Stops every listener and waits for in-flight answers.
    pub async fn shutdown(mut self) {
        for s in &mut self.servers {
            if let Err(e) = s.shutdown_gracefully().await {
                tracing::debug!(error = %e, "a DNS listener ended with an error during shutdown");
            }
        }
    }
}

/// Binds every listener and serves it on background tasks.
pub async fn start(store: Store, specs: &[ListenerSpec]) -> anyhow::Result<DnsServers> {
    let mut running = DnsServers { servers: Vec::new(), addresses: Vec::new() };
    for spec in specs {
        match bind(spec.listen).await {
            Ok((udp, tcp)) => {
                let addr = udp.local_addr().unwrap_or(spec.listen);
                let mut server = hickory_server::Server::new(DnsHandler::new(store.clone(), spec.view.clone()));
                server.register_socket(udp);
                server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_QUEUE);
                tracing::info!(dns_listen = %addr, view = %spec.view.describe(), "answering DNS for Cloud Map namespaces");
                running.servers.push(server);
                running.addresses.push(addr);
            }
            Err(e) if spec.required => {
                anyhow::bail!(
                    "cannot listen for DNS on {} (UDP and TCP): {e}. Is another DNS server using that port? Choose another address with --dns-listen ADDR:PORT, or --dns-listen off",
                    spec.listen
                );
            }
            Err(e) => tracing::warn!(
                dns_listen = %spec.listen,
                error = %e,
                "the default DNS port is taken; localplane runs without DNS. Pass --dns-listen ADDR:PORT to pick a free one"
            ),
        }
    }
    Ok(running)
}

/// Binds UDP and TCP on the same address (the TCP port follows the UDP one when `addr` asks for port 0).
async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let udp = tokio::net::UdpSocket::bind(addr).await?;
    let tcp = tokio::net::TcpListener::bind(udp.local_addr()?).await?;
    Ok((udp, tcp))
}
