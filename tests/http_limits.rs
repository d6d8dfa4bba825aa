//! The HTTP server's bounds against the real binary and real sockets (issue 11): slow
//! clients are closed at the header and body timeouts, a connection flood beyond
//! `max_connections` is refused at once while the hub stays healthy, oversized heads and
//! batches are refused, and shutdown does not wait on slow connections.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use support::{Hub, http};

fn write_config(dir: &Path, addr: SocketAddr, hub_extra: &str) {
    let text = format!(
        r#"
[hub]
listen = "{addr}"
data_dir = "data"
drain_timeout_ms = 500
{hub_extra}

[sinks.out]
type = "file"
path = "out.jsonl"

[[routes]]
name = "in"
from = ["topic:in"]
to = ["out"]
retry = {{ attempts = 3 }}
"#
    );
    std::fs::write(dir.join("weft.toml"), text).unwrap();
}

fn start(hub_extra: &str) -> (tempfile::TempDir, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    write_config(dir.path(), addr, hub_extra);
    let hub = Hub::start(dir.path(), addr);
    (dir, hub)
}

/// Reads until the server closes the connection (or `limit` passes); what it sent.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(String::from_utf8_lossy(&got).into_owned()),
        }
    }
    None
}

#[test]
fn slow_header_clients_are_closed_at_the_header_timeout() {
    let (_dir, hub) = start("header_timeout_ms = 1000");
    // 40 clients that send one byte of their request head every 300 ms
    let head =
        b"POST /v1/events/in HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents+json\r\n";
    let started = Instant::now();
    let mut clients: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(hub.addr).unwrap())
        .collect();
    let mut closed_after: Vec<Option<Duration>> = vec![None; clients.len()];
    let mut sent = 0;
    while closed_after.iter().any(Option::is_none) && started.elapsed() < Duration::from_secs(10) {
        for (i, c) in clients.iter_mut().enumerate() {
            if closed_after[i].is_some() {
                continue;
            }
            // a write to a closed connection fails (at once or on the next byte)
            let write = c.write_all(&head[sent % head.len()..sent % head.len() + 1]);
            c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            let mut b = [0u8; 512];
            let eof = matches!(c.read(&mut b), Ok(0)) || write.is_err();
            if eof {
                closed_after[i] = Some(started.elapsed());
            }
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let held: Vec<Duration> = closed_after
        .iter()
        .map(|d| d.expect("a slow client was still connected after 10 s"))
        .collect();
    let longest = held.iter().max().unwrap();
    let shortest = held.iter().min().unwrap();
    eprintln!(
        "slow-header clients held {:.2}–{:.2} s (header_timeout_ms = 1000)",
        shortest.as_secs_f64(),
        longest.as_secs_f64()
    );
    assert!(
        *shortest >= Duration::from_millis(900),
        "closed before the timeout: {shortest:?}"
    );
    assert!(
        *longest < Duration::from_millis(2500),
        "held too long: {longest:?}"
    );
    // the hub is fine
    assert_eq!(
        http(hub.addr, "GET", "/healthz", &[], b"").unwrap().status,
        200
    );
}

#[test]
fn slow_body_gets_408_at_the_body_timeout() {
    let (_dir, hub) = start("body_timeout_ms = 800");
    let mut c = TcpStream::connect(hub.addr).unwrap();
    c.write_all(b"POST /v1/events/in HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents+json\r\ncontent-length: 100\r\n\r\n{\"specversion\"")
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut c, Duration::from_secs(10)).expect("never answered");
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("hub.body_timeout_ms"), "{answer}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn connection_flood_beyond_the_cap_is_refused_while_the_hub_stays_healthy() {
    let (_dir, hub) = start("max_connections = 16\nheader_timeout_ms = 3000");
    // 16 idle connections fill the server
    let idle: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(hub.addr).unwrap())
        .collect();
    // wait until the server has taken all of them (the next one is refused)
    let refused = support::poll(Duration::from_secs(5), || {
        let mut c = TcpStream::connect(hub.addr).ok()?;
        let answer = read_until_closed(&mut c, Duration::from_secs(1))?;
        answer.starts_with("HTTP/1.1 503").then_some(answer)
    })
    .expect("a connection beyond max_connections was not refused");
    assert!(refused.contains("max_connections"), "{refused}");
    // a flood of 200 more: each answered 503 at once, none left hanging
    let started = Instant::now();
    let mut answered = 0;
    for _ in 0..200 {
        let mut c = TcpStream::connect(hub.addr).unwrap();
        let answer = read_until_closed(&mut c, Duration::from_secs(2)).expect("hung");
        if answer.starts_with("HTTP/1.1 503") {
            answered += 1;
        }
    }
    eprintln!(
        "200 connections beyond the cap refused in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(answered >= 190, "only {answered} of 200 got 503");
    // the idle ones time out, the slots free up and the hub serves again
    let healthy = support::poll(Duration::from_secs(10), || {
        http(hub.addr, "GET", "/healthz", &[], b"")
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(healthy.is_some(), "the hub did not recover after the flood");
    drop(idle);
    let r = support::post_event(
        hub.addr,
        "in",
        &serde_json::json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
}

#[test]
fn oversized_heads_and_batches_are_refused() {
    let (_dir, hub) = start("max_batch_events = 3\nmax_header_bytes = 8192");
    let big = "x".repeat(20_000);
    let r = http(hub.addr, "GET", "/healthz", &[("x-big", &big)], b"");
    // hyper answers 431 or closes the connection
    match r {
        Ok(r) => assert_eq!(r.status, 431, "{}", r.body),
        Err(e) => eprintln!("oversized head: connection closed ({e})"),
    }
    let ev = |i: u32| serde_json::json!({"specversion": "1.0", "id": i.to_string(), "source": "/s", "type": "t"});
    let batch = |n: u32| serde_json::Value::Array((0..n).map(ev).collect()).to_string();
    let ct = [("content-type", "application/cloudevents-batch+json")];
    let r = http(hub.addr, "POST", "/v1/events/in", &ct, batch(4).as_bytes()).unwrap();
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("hub.max_batch_events"), "{}", r.body);
    let r = http(hub.addr, "POST", "/v1/events/in", &ct, batch(3).as_bytes()).unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
}

#[test]
fn shutdown_does_not_wait_on_slow_connections() {
    let (_dir, mut hub) = start("shutdown_timeout_ms = 1000\nbody_timeout_ms = 60000");
    // a request whose body never completes (held up to body_timeout without the deadline)
    let mut c = TcpStream::connect(hub.addr).unwrap();
    c.write_all(b"POST /v1/events/in HTTP/1.1\r\nhost: x\r\ncontent-type: application/cloudevents+json\r\ncontent-length: 100\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = hub.terminate();
    let took = started.elapsed();
    eprintln!(
        "shutdown with a slow connection open took {:.2} s",
        took.as_secs_f64()
    );
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}
