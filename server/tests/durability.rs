//! Kill the real server (SIGKILL) during concurrent intake, again and again, and check,
//! after a restart, that every acknowledged (201) event is there — on SQLite and on
//! PostGIS. The tests kill twice; `MINQING_DURABILITY_KILLS=20` (the benchmark
//! command) kills twenty times.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_minqing");

/// The binary with a test data key (personal fields are encrypted at rest; `serve` and
/// `import` refuse to run without a key).
fn minqing() -> Command {
    let mut c = Command::new(BIN);
    c.env(
        "MINQING_DATA_KEY",
        "6d696e71696e672d746573742d6b65792d6e6f742d666f722d70726f64756374",
    );
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request on a fresh connection; `None` if the connection failed or was
/// cut (the server died), else (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    http_as(port, None, method, path, body)
}

/// [`http`] with a bearer token.
fn http_as(
    port: u16,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|x| x.1.to_string())?;
    Some((status, body))
}

fn run(args: &[&str]) {
    let out = minqing().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "minqing {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(url: &str, port: u16) -> Child {
    let mut child = minqing()
        .args([
            "serve",
            "--database-url",
            url,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Some((200, _)) = http(port, "GET", "/healthz", "") {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not become healthy");
}

/// Points inside the district: the generated buildings.
fn points(dir: &Path) -> Vec<(f64, f64)> {
    let mut r = csv::Reader::from_path(dir.join("buildings.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let (lon, lat) = (
        h.iter().position(|c| c == "lon").unwrap(),
        h.iter().position(|c| c == "lat").unwrap(),
    );
    r.records()
        .take(200)
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[lon].parse().unwrap(), rec[lat].parse().unwrap())
        })
        .collect()
}

/// A leader account made with the CLI, signed in over HTTP: its token (sessions are in
/// the store, so it outlives the kills).
fn leader_token(url: &str, port: u16) -> String {
    let mut add = minqing()
        .args([
            "user",
            "add",
            "--database-url",
            url,
            "--username",
            "durability",
            "--role",
            "leader",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"durability-pass-1\n")
        .unwrap();
    assert!(add.wait().unwrap().success(), "user add");
    let (s, body) = http(
        port,
        "POST",
        "/api/v1/auth/login",
        r#"{"username":"durability","password":"durability-pass-1"}"#,
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["token"].as_str().unwrap().to_string()
}

fn kills() -> usize {
    std::env::var("MINQING_DURABILITY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn kill_during_intake(url: &str, dir: &Path) {
    run(&["import", "--database-url", url, dir.to_str().unwrap()]);
    let pts = points(dir);
    let port = free_port();
    let mut server = start(url, port);
    let token = leader_token(url, port);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    for round in 0..kills() {
        if round > 0 {
            server = start(url, port);
        }
        server = intake_then_kill(server, port, &token, &pts, &acked, round);
    }
    drop(server);
    let acked = acked.lock().unwrap().clone();
    let unique: std::collections::HashSet<_> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "codes are unique");
    eprintln!("{} kills, {} acknowledged events", kills(), acked.len());

    let mut server = start(url, port);
    for code in &acked {
        let (s, body) = http_as(
            port,
            Some(&token),
            "GET",
            &format!("/api/v1/events/{code}"),
            "",
        )
        .unwrap();
        assert_eq!(s, 200, "acknowledged event {code} lost: {body}");
    }
    // And intake continues after the restart with fresh codes.
    let (lon, lat) = pts[0];
    let (s, b) = http_as(
        port,
        Some(&token),
        "POST",
        "/api/v1/events",
        &format!(r#"{{"category":"petition","source":"visitor","title":"重启后","lon":{lon},"lat":{lat}}}"#),
    )
    .unwrap();
    assert_eq!(s, 201, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert!(!unique.contains(&v["code"].as_str().unwrap().to_string()));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Six clients take in events until 40 more were acknowledged, then SIGKILL (in-flight
/// requests are cut and never acknowledged). Returns the dead server.
fn intake_then_kill(
    mut server: Child,
    port: u16,
    token: &str,
    pts: &[(f64, f64)],
    acked: &Arc<Mutex<Vec<String>>>,
    round: usize,
) -> Child {
    let before = acked.lock().unwrap().len();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (acked, stop, pts) = (acked.clone(), stop.clone(), pts.to_vec());
            let token = token.to_string();
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(Ordering::SeqCst) {
                    let (lon, lat) = pts[i % pts.len()];
                    let body = format!(
                        r#"{{"category":"dispute","source":"visitor","title":"耐久{round}-{w}-{i}","lon":{lon},"lat":{lat}}}"#
                    );
                    match http_as(port, Some(&token), "POST", "/api/v1/events", &body) {
                        Some((201, b)) => {
                            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                            acked.lock().unwrap().push(v["code"].as_str().unwrap().to_string());
                        }
                        Some((s, b)) => panic!("unexpected {s}: {b}"),
                        None => {} // cut by the kill: never acknowledged
                    }
                    i += 6;
                }
            })
        })
        .collect();
    // Kill once a fair number of intakes were acknowledged (in-flight ones are cut).
    let t = Instant::now();
    while acked.lock().unwrap().len() < before + 40 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let n = acked.lock().unwrap().len() - before;
    assert!(n >= 40, "round {round}: only {n} acknowledged");
    server
}

fn generated() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("district");
    run(&[
        "generate",
        "--out",
        dir.to_str().unwrap(),
        "--scale",
        "0.01",
        "--seed",
        "7",
    ]);
    (tmp, dir)
}

#[test]
fn sigkill_during_intake_loses_no_acknowledged_event_sqlite() {
    let (tmp, dir) = generated();
    let url = format!("sqlite://{}", tmp.path().join("minqing.db").display());
    kill_during_intake(&url, &dir);
}

#[test]
fn sigkill_during_intake_loses_no_acknowledged_event_postgis() {
    let admin = std::env::var("MINQING_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("minqing_durability_{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin}: {e}"));
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let base = admin.rsplit_once('/').unwrap().0;
    let url = format!("{base}/{name}");
    let (_tmp, dir) = generated();
    run(&["migrate", "--database-url", &url]);
    kill_during_intake(&url, &dir);
}
