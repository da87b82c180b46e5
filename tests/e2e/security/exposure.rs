//! What a server exposes beyond its clients: web pages (cross-site requests, DNS rebinding), idle
//! and slow connections, large admin bodies, damaged databases and wide listening.

use crate::common::*;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A raw request: status and body text.
async fn raw(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.endpoint())).body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

/// A request a web page could make: what it is, method, path, headers and body.
type Attempt<'a> = (&'static str, reqwest::Method, &'static str, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test(flavor = "multi_thread")]
async fn web_pages_cannot_drive_or_read_the_server() {
    let server = Server::ephemeral("instant").await;
    let c = cloudmap(&server, Wire::Json);
    c.create_http_namespace().name("kept").send().await.expect("the SDK passes");
    let own = format!("127.0.0.1:{}", server.port);
    let evil = [("origin", "http://evil.example"), ("content-type", "text/plain")];
    let target = "Route53AutoNaming_v20170314.CreateHttpNamespace";
    let rule =
        r#"{"service":"servicediscovery","operation":"ListNamespaces","errorCode":"ServiceUnavailable","count":5}"#;
    let attempts: Vec<Attempt> = vec![
        ("cross-site reset", reqwest::Method::POST, "/_localplane/reset", evil.to_vec(), ""),
        ("cross-site moto reset", reqwest::Method::POST, "/moto-api/reset", evil.to_vec(), ""),
        ("cross-site LocalStack reset", reqwest::Method::POST, "/_localstack/state/reset", evil.to_vec(), ""),
        ("cross-site fault rule", reqwest::Method::POST, "/_localplane/faults", evil.to_vec(), rule),
        ("cross-site advance", reqwest::Method::POST, "/_localplane/operations/advance", evil.to_vec(), ""),
        (
            "cross-site create",
            reqwest::Method::POST,
            "/",
            [evil.to_vec(), vec![("x-amz-target", target)]].concat(),
            r#"{"Name":"evil"}"#,
        ),
        ("opaque origin", reqwest::Method::POST, "/_localplane/reset", vec![("origin", "null")], ""),
        (
            "rebinding snapshot read",
            reqwest::Method::GET,
            "/_localplane/snapshot",
            vec![("host", "evil.example:4566")],
            "",
        ),
        (
            "rebinding operations read",
            reqwest::Method::GET,
            "/_localplane/operations",
            vec![("host", "evil.example")],
            "",
        ),
        (
            "rebinding API call",
            reqwest::Method::POST,
            "/",
            vec![("host", "evil.example"), ("x-amz-target", target)],
            r#"{"Name":"evil"}"#,
        ),
        (
            "rebinding with the page's origin",
            reqwest::Method::GET,
            "/_localplane/snapshot",
            vec![("host", "evil.example"), ("origin", "http://evil.example")],
            "",
        ),
    ];
    let mut refused = 0;
    for (what, method, path, headers, body) in &attempts {
        let (status, text) = raw(&server, method.clone(), path, headers, body).await;
        assert_eq!(status, 403, "{what} is refused: {text}");
        assert!(text.contains("AccessDeniedException") && (text.contains("Origin") || text.contains("Host")), "{text}");
        refused += 1;
    }
    eprintln!("cross-site: {} attempts, {refused} refused", attempts.len());
    let listed = c.list_namespaces().send().await.unwrap();
    let names: Vec<_> = listed.namespaces().iter().filter_map(|n| n.name()).collect();
    assert_eq!(names, ["kept"], "nothing was reset or created");
    let (_, faults) = admin(&server, reqwest::Method::GET, "/_localplane/faults", None).await;
    assert_eq!(faults["faults"].as_array().map(Vec::len), Some(0), "no fault rule was added: {faults}");

    // The server's own origin, loopback names, the data- prefix and no Host at all pass.
    let same_origin = format!("http://{own}");
    for headers in [
        vec![("origin", same_origin.as_str())],
        vec![("host", "localhost")],
        vec![("host", &*format!("data-localhost:{}", server.port))],
        vec![("host", &*format!("data-{own}"))],
        vec![("host", &*format!("[::1]:{}", server.port))],
    ] {
        let (status, text) = raw(&server, reqwest::Method::GET, "/_localplane/operations", &headers, "").await;
        assert_eq!(status, 200, "{headers:?}: {text}");
    }
    let mut http10 = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    http10.write_all(b"GET /_localplane/health HTTP/1.0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut http10, &mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "{answer}");

    // --allowed-hosts lets a configured name through (a container's name for the host, say).
    let named = Server::ephemeral_with(&["--timing", "instant", "--allowed-hosts", "localplane.test,other"]).await;
    let ok =
        raw(&named, reqwest::Method::GET, "/_localplane/operations", &[("host", "localplane.test:4566")], "").await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let no = raw(&named, reqwest::Method::GET, "/_localplane/operations", &[("host", "evil.example")], "").await;
    assert_eq!(no.0, 403, "{}", no.1);
}

/// A raw connection that sent one keep-alive request, read its answer and stays open.
async fn idle_keep_alive(port: u16) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET /_localplane/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_do_not_lock_out_new_clients() {
    let server = Server::ephemeral_with(&["--timing", "instant", "--max-connections", "8"]).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(idle_keep_alive(server.port).await);
    }
    for i in 0..8 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
        if i % 2 == 0 {
            // Dribbling a head: a few bytes and nothing more.
            s.write_all(b"POST / HTTP/1.1\r\nHo").await.unwrap();
        }
        held.push(s);
    }
    let c = cloudmap(&server, Wire::Json);
    for round in 0..3 {
        let started = Instant::now();
        let answered = tokio::time::timeout(Duration::from_secs(5), c.list_namespaces().send()).await;
        assert!(
            matches!(answered, Ok(Ok(_))),
            "round {round}: a new client is answered at the connection limit ({:?})",
            started.elapsed()
        );
        held.push(tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap());
    }
    drop(held);
}

/// Sends a request head declaring a body of `length` bytes, and nothing more; returns what the
/// server answers within a few seconds.
async fn declare_body(port: u16, method: &str, path: &str, length: usize) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {length}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(&mut s, &mut buf))
        .await
        .expect("answered at once, before the body")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_bodies_have_a_small_limit_except_snapshot_import() {
    let server = Server::ephemeral("instant").await;
    for (method, path) in [("POST", "/_localplane/faults"), ("PUT", "/_localplane/timing")] {
        let answer = declare_body(server.port, method, path, 2 * 1024 * 1024).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains("limit of 1048576 bytes"), "{answer}");
    }
    // A snapshot over the small limit is read (and checked) in full.
    let doc = format!(
        r#"{{"format":"localplane-snapshot","version":2,"entries":{{"nope/{}":"x"}}}}"#,
        "k".repeat(1536 * 1024)
    );
    let (status, text) = raw(&server, reqwest::Method::PUT, "/_localplane/snapshot", &[], &doc).await;
    assert_eq!(status, 400, "a 1.5 MiB snapshot is read and checked: {text}");
    assert!(text.contains("unknown key"), "{text}");
    // A snapshot declared over its own limit is refused before it is sent.
    let answer = declare_body(server.port, "PUT", "/_localplane/snapshot", 300_000_000).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // The store still answers.
    let (status, _) = admin(&server, reqwest::Method::GET, "/_localplane/snapshot", None).await;
    assert_eq!(status, 200);
}

/// Runs `serve` on `dir` and waits for it to exit; returns (success, stderr). Panics if it keeps running.
fn serve_and_exit(dir: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--dns-listen", "off", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            return (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    (true, "still running".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_or_damaged_databases_refuse_to_start() {
    if test_postgres().is_some() {
        return; // SQLite's own check; PostgreSQL keeps its integrity itself.
    }
    let empty = temp_dir("empty-db");
    std::fs::write(empty.join("localplane.db"), b"").unwrap();
    let (ok, stderr) = serve_and_exit(&empty, &[]);
    assert!(!ok, "a 0-byte database refuses to start");
    assert!(stderr.contains("0 bytes") && stderr.contains("--skip-integrity-check"), "{stderr}");
    assert!(serve_and_exit(&empty, &["--skip-integrity-check"]).1 == "still running", "the flag skips the check");

    let dir = temp_dir("damaged-db");
    let mut server = Server::persistent(&dir, "instant").await;
    let c = cloudmap(&server, Wire::Json);
    for i in 0..40 {
        c.create_http_namespace().name(format!("ns-{i}")).description("d".repeat(900)).send().await.unwrap();
    }
    assert_eq!(server.terminate(), Some(0));
    let path = dir.join("localplane.db");
    // Whatever the WAL still holds goes into the file first, so that the damage is what is read.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;").unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 3 * 4096, "the database has pages to damage ({} bytes)", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (ok, stderr) = serve_and_exit(&dir, &[]);
    assert!(!ok, "a damaged database refuses to start");
    assert!(stderr.contains("damaged") && stderr.contains("snapshot import"), "{stderr}");
    let _ = std::fs::remove_dir_all(empty);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_beyond_loopback_without_verification_warns() {
    let port = std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_localplane"))
        .args(["serve", "--ephemeral", "--dns-listen", "off", "--admin-token", "t", "--listen"])
        .arg(format!("0.0.0.0:{port}"))
        .env("LOCALPLANE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let warned = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr).lines().map_while(Result::ok).any(|l| l.contains("beyond loopback"))
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !warned.is_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(warned.join().unwrap(), "--listen 0.0.0.0 with --auth accept logs a warning");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cbor_byte_string_for_a_string_is_a_serialization_exception() {
    let server = Server::ephemeral("instant").await;
    let encode = |name: ciborium::Value| {
        let mut body = Vec::new();
        ciborium::ser::into_writer(
            &ciborium::Value::Map(vec![(ciborium::Value::Text("Name".into()), name)]),
            &mut body,
        )
        .unwrap();
        body
    };
    let send = |body: Vec<u8>| {
        reqwest::Client::new()
            .post(format!("{}/service/Route53AutoNaming_v20170314/operation/CreateHttpNamespace", server.endpoint()))
            .header("smithy-protocol", "rpc-v2-cbor")
            .header("content-type", "application/cbor")
            .header("accept", "application/cbor")
            .body(body)
            .send()
    };
    let resp = send(encode(ciborium::Value::Bytes(b"bytes-name".to_vec()))).await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: ciborium::Value = ciborium::de::from_reader(&resp.bytes().await.unwrap()[..]).unwrap();
    let kind =
        v.as_map().and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some("__type"))).and_then(|(_, t)| t.as_text());
    assert!(kind.is_some_and(|t| t.ends_with("SerializationException")), "{v:?}");
    let listed = cloudmap(&server, Wire::Cbor).list_namespaces().send().await.unwrap();
    assert!(listed.namespaces().is_empty(), "nothing was created from a byte string");
    let ok = send(encode(ciborium::Value::Text("text-name".into()))).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200, "a text string passes");
}
