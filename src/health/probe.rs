//! One probe of one endpoint, as a Route 53 checker does it: TCP connects; HTTP and HTTPS connect,
//! send `GET <ResourcePath>` and want a well-formed status line and headers with a 2xx or 3xx code
//! in time. Redirects are not followed and the body is never read.

use super::targets::{CheckType, ProbeSpec};
use rustls::pki_types::ServerName;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The most response-head bytes read before giving up on a response.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// How long each stage of a probe may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// HTTP(S): establishing the TCP connection (Route 53: 4 s).
    pub http_connect: Duration,
    /// HTTP(S): from the connection to the end of the response headers (Route 53: 2 s).
    pub http_response: Duration,
    /// TCP: establishing the connection (Route 53: 10 s).
    pub tcp_connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            http_connect: Duration::from_secs(4),
            http_response: Duration::from_secs(2),
            tcp_connect: Duration::from_secs(10),
        }
    }
}

/// The result of one probe: `Ok` when healthy, else why not.
pub type Verdict = Result<(), String>;

/// Probes `spec` once.
pub async fn probe(spec: &ProbeSpec, timeouts: Timeouts, tls: &tokio_rustls::TlsConnector) -> Verdict {
    let connect_limit = if spec.check == CheckType::Tcp { timeouts.tcp_connect } else { timeouts.http_connect };
    let stream = match timeout(connect_limit, TcpStream::connect(spec.addr)).await {
        Err(_) => return Err(format!("no TCP connection to {} within {connect_limit:?}", spec.addr)),
        Ok(Err(e)) => return Err(format!("TCP connection to {} failed: {e}", spec.addr)),
        Ok(Ok(s)) => s,
    };
    match spec.check {
        CheckType::Tcp => Ok(()),
        CheckType::Http => within(timeouts.http_response, http_exchange(stream, spec)).await,
        CheckType::Https => {
            let exchange = async {
                let tls_stream = tls
                    .connect(server_name(spec), stream)
                    .await
                    .map_err(|e| format!("TLS handshake with {} failed: {e}", spec.addr))?;
                http_exchange(tls_stream, spec).await
            };
            within(timeouts.http_response, exchange).await
        }
    }
}

async fn within(limit: Duration, exchange: impl std::future::Future<Output = Verdict>) -> Verdict {
    timeout(limit, exchange).await.unwrap_or_else(|_| Err(format!("no complete response headers within {limit:?}")))
}

/// The TLS server name: the Host name when it is a name, else the address (which sends no SNI).
fn server_name(spec: &ProbeSpec) -> ServerName<'static> {
    let host = match spec.host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) => h,
        _ => spec.host.as_str(),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).unwrap_or_else(|_| ServerName::IpAddress(spec.addr.ip().into()))
}

async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, spec: &ProbeSpec) -> Verdict {
    if spec.path.bytes().any(|b| b.is_ascii_control() || b == b' ') || spec.host.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!("ResourcePath {:?} cannot be sent in an HTTP request line", spec.path));
    }
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Amazon-Route53-Health-Check-Service (ref {}; localplane)\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        spec.path,
        spec.host,
        uuid::Uuid::new_v4()
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("sending the request failed: {e}"))?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = find_head_end(&head) {
            return judge_head(&head[..end]);
        }
        if head.len() > MAX_RESPONSE_HEAD {
            return Err(format!("response headers exceed {MAX_RESPONSE_HEAD} bytes"));
        }
        let n = stream.read(&mut chunk).await.map_err(|e| format!("reading the response failed: {e}"))?;
        if n == 0 {
            return Err("connection closed before the response headers ended".to_string());
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Judges a response head (status line and headers, without the blank line).
pub fn judge_head(head: &[u8]) -> Verdict {
    let text = std::str::from_utf8(head).map_err(|_| "the response headers are not valid text".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(format!("not an HTTP/1.x status line: {status_line:?}"));
    }
    let code: u16 = code.parse().map_err(|_| format!("not an HTTP status code: {code:?}"))?;
    for line in lines {
        let well_formed = line.split_once(':').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        });
        if !well_formed {
            return Err(format!("malformed response header line {line:?}"));
        }
    }
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP status {code}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_header_shape_decide() {
        assert!(judge_head(b"HTTP/1.1 200 OK\r\nContent-Length: 0").is_ok());
        assert!(judge_head(b"HTTP/1.0 302 Found\r\nLocation: /x").is_ok(), "3xx is healthy, not followed");
        assert!(judge_head(b"HTTP/1.1 500 Oops").is_err());
        assert!(judge_head(b"HTTP/1.1 101 Switching").is_err());
        assert!(judge_head(b"HTTP/1.1 200 OK\r\nbad header").is_err());
        assert!(judge_head(b"SSH-2.0-OpenSSH").is_err());
    }

    #[test]
    fn tls_server_name_is_the_host_name_without_port() {
        let spec = |host: &str| ProbeSpec {
            check: CheckType::Https,
            addr: "127.0.0.1:8443".parse().expect("addr"),
            path: "/".into(),
            host: host.into(),
        };
        assert_eq!(server_name(&spec("site.pub.test:8443")).to_str(), "site.pub.test");
        assert_eq!(server_name(&spec("site.pub.test")).to_str(), "site.pub.test");
        assert!(matches!(server_name(&spec("[::1]:8443")), ServerName::IpAddress(_)));
    }
}
