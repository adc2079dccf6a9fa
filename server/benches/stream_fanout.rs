//! 1,000 live-feed clients: a server on a real socket (this process, 127.0.0.1, the
//! router `minqing serve` runs), `CLIENTS` TCP connections each holding
//! `GET /api/v1/events/stream` open as a signed-in leader, then one new event taken in
//! through the write path (`events::service::intake`, as `POST /api/v1/events` does).
//! Measures, from the moment the intake is called, when each client has read the new
//! event's code off its socket: p50, p99 and the last arrival (the goal: all within 1 s).
//!
//! The district: `MINQING_BENCH_SCALE` (default 0.1; the feed's cost does not grow with
//! the district). `MINQING_BENCH_CLIENTS` changes the number of clients.
//!
//!     cargo bench -p minqing-server --bench stream_fanout

use minqing_domain::auth::Role;
use minqing_domain::config::Secret;
use minqing_domain::events::service::{self, IntakeRequest};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GOAL: Duration = Duration::from_secs(1);

fn main() {
    let clients: usize = std::env::var("MINQING_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let scale: f64 = std::env::var("MINQING_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.1);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    rt.block_on(async move {
        let state = minqing_domain::synthetic_state(tmp.path(), scale, 7)
            .await
            .expect("the district");
        minqing_domain::auth::users::create(
            &state.store,
            "bench-leader",
            "bench-password-1",
            Role::Leader,
            None,
            &[],
        )
        .await
        .expect("account");
        let signed = minqing_domain::auth::sessions::login(
            &state,
            "bench-leader",
            &Secret::new("bench-password-1"),
            "bench",
        )
        .await
        .expect("sign in");
        let token = signed.token;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = minqing_server::http::app(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .expect("serve");
        });
        // Connect every client and wait for each stream's response head.
        let started = Instant::now();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(clients);
        let (code_tx, _) = tokio::sync::broadcast::channel::<(String, Instant)>(4);
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (token, ready, mut code_rx) = (token.clone(), ready_tx.clone(), code_tx.subscribe());
            tasks.push(tokio::spawn(async move {
                let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
                sock.set_nodelay(true).ok();
                let head = format!(
                    "GET /api/v1/events/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
                );
                sock.write_all(head.as_bytes()).await.expect("request");
                let mut buf = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                // The response head.
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = sock.read(&mut chunk).await.expect("read");
                    assert!(n > 0, "the server closed the stream");
                    buf.extend_from_slice(&chunk[..n]);
                }
                assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
                ready.send(()).await.ok();
                let (code, t0) = code_rx.recv().await.expect("the code");
                // Read until the new event's code went by (it may come in pieces).
                buf.clear();
                loop {
                    if buf.windows(code.len()).any(|w| w == code.as_bytes()) {
                        return Some(t0.elapsed());
                    }
                    let n = match tokio::time::timeout(Duration::from_secs(10), sock.read(&mut chunk)).await {
                        Ok(Ok(n)) if n > 0 => n,
                        _ => return None,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > 1 << 20 {
                        buf.drain(..buf.len() - 4096);
                    }
                }
            }));
        }
        drop(ready_tx);
        let mut ready = 0;
        while ready < clients && ready_rx.recv().await.is_some() {
            ready += 1;
        }
        eprintln!(
            "{ready} streams open in {:.2?}; the server keeps {} connections",
            started.elapsed(),
            ready
        );
        // Let the streams settle (keep-alives, the first re-checks), then one change.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let caller = state
            .auth()
            .authenticate(&state.store, &token, "bench".into())
            .await
            .expect("caller");
        let building = {
            let ix = state.index().expect("index");
            ix.buildings[ix.buildings.len() / 2].code.clone()
        };
        let req = IntakeRequest {
            category: "dispute".into(),
            source: "visitor".into(),
            title: "邻里噪音纠纷".into(),
            description: "基准测试：一件新事项".into(),
            lon: None,
            lat: None,
            address_code: Some(building),
            address: None,
            risk_tier: None,
        };
        let render = |e: &minqing_domain::model::Event, _: &[service::Duplicate]| e.code.clone();
        let t0 = Instant::now();
        let created = service::intake(&state, &req, None, &caller, &render)
            .await
            .expect("intake");
        let acked = t0.elapsed();
        let code = match created {
            service::Intake::Created { event, .. } => event.code.clone(),
            service::Intake::Replayed { .. } => unreachable!("no idempotency key"),
        };
        code_tx.send((code.clone(), t0)).expect("clients listening");
        let mut arrivals = Vec::with_capacity(clients);
        let mut missing = 0;
        for t in tasks {
            match t.await.expect("client") {
                Some(d) => arrivals.push(d),
                None => missing += 1,
            }
        }
        arrivals.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pct = |p: f64| arrivals[((arrivals.len() as f64 * p).ceil() as usize).clamp(1, arrivals.len()) - 1];
        let last = *arrivals.last().expect("arrivals");
        println!(
            "stream fan-out: {} clients, event {code} committed in {:.1} ms; received by {} (missing {missing}): p50 {:.1} ms, p99 {:.1} ms, last {:.1} ms — goal all ≤ {} ms: {}",
            clients,
            ms(acked),
            arrivals.len(),
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(last),
            GOAL.as_millis(),
            if missing == 0 && last <= GOAL { "met" } else { "MISSED" }
        );
    });
}
