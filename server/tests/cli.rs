//! The `minqing` binary end to end: `demo` generates, imports and serves on first run and
//! reuses its data afterwards; `generate`, `migrate`, `import` and `serve` work as the
//! README says.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
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

/// Start `cmd` (a `demo --port 0` or `serve --bind 127.0.0.1:0`) and return it with
/// the port the server itself bound, read from its "listening on" line: no port is
/// picked in advance, so no other process can take it in between.
fn start_listening(mut cmd: Command) -> (Server, u16) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading to the end, so the server never blocks on a full pipe.
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let port = addr.trim_end_matches('/').rsplit(':').next().unwrap_or("");
                let _ = tx.send(port.parse::<u16>().unwrap_or(0));
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the server prints the address it listens on");
    assert_ne!(port, 0, "a port was printed");
    (Server(child), port)
}

/// A plain HTTP/1.1 GET, enough for these checks.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split(' ').nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_healthy(server: &mut Server, port: u16, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Some((200, body)) = http_get(port, "/healthz") {
            assert_eq!(body.trim(), r#"{"status":"ok"}"#);
            return;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("server exited early with {status}");
        }
        assert!(started.elapsed() < limit, "not healthy within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stats(port: u16) -> serde_json::Value {
    let (status, body) = http_get(port, "/api/v1/stats").expect("stats");
    assert_eq!(status, 200, "{body}");
    // The body may be chunked; take the JSON object.
    let start = body.find('{').unwrap();
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

#[test]
fn demo_generates_once_then_reuses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = || -> (Server, u16) {
        let mut cmd = minqing();
        cmd.args(["demo", "--no-live", "--port", "0", "--data-dir"])
            .arg(&data)
            .args(["--scale", "0.01"]);
        start_listening(cmd)
    };
    let (mut server, port) = run();
    wait_healthy(&mut server, port, Duration::from_secs(120));
    let first = stats(port);
    assert_eq!(first["building_addresses"], 1220);
    assert_eq!(first["residents"], 6270);
    drop(server);
    let db_len = std::fs::metadata(data.join("minqing.db")).unwrap().len();

    let (mut server, port) = run();
    wait_healthy(&mut server, port, Duration::from_secs(60));
    assert_eq!(
        stats(port),
        first,
        "the second run serves the same district"
    );
    let (status, body) = http_get(port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("民情"));
    drop(server);
    assert!(std::fs::metadata(data.join("minqing.db")).unwrap().len() >= db_len);
}

#[test]
fn generate_migrate_import_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("files");
    let out = minqing()
        .args(["generate", "--scale", "0.01", "--out"])
        .arg(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = format!("sqlite://{}", tmp.path().join("x.db").display());
    let out = minqing()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = minqing()
        .args(["import", "--database-url", &url])
        .arg(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("residents-gbk.csv") && report.contains("gb18030"),
        "{report}"
    );
    // Missing database URL is a clear error, not a panic.
    let out = minqing()
        .args(["serve"])
        .env_remove("MINQING_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database-url"));

    // `serve` answers nobody without a sign-in by default (issue 21)…
    let mut cmd = minqing();
    cmd.args(["serve", "--database-url", &url, "--bind", "127.0.0.1:0"])
        .env_remove("MINQING_PUBLIC_AGGREGATES");
    let (mut server, port) = start_listening(cmd);
    wait_healthy(&mut server, port, Duration::from_secs(60));
    let (status, body) = http_get(port, "/api/v1/stats").expect("stats");
    assert_eq!(status, 401, "{body}");
    drop(server);
    // …and opens public aggregates when configured to.
    let mut cmd = minqing();
    cmd.args(["serve", "--database-url", &url, "--bind", "127.0.0.1:0"])
        .env("MINQING_PUBLIC_AGGREGATES", "true");
    let (mut server, port) = start_listening(cmd);
    wait_healthy(&mut server, port, Duration::from_secs(60));
    let s = stats(port);
    assert_eq!(s["building_addresses"], manifest["building_addresses"]);
    assert_eq!(s["events"], manifest["events"]);
}

/// One request with curl (a real HTTP client, not the in-process router): status,
/// content type and body.
fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "30",
            "-w",
            "\n%{http_code} %{content_type}",
        ])
        .args(args)
        .output()
        .expect("curl must be installed for this test");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, meta) = text.rsplit_once('\n').unwrap();
    let (code, ct) = meta.split_once(' ').unwrap_or((meta, ""));
    (code.parse().unwrap(), ct.to_string(), body.to_string())
}

/// Open311 GeoReport v2 over real HTTP, following the spec's examples (discovery,
/// services in JSON and XML, a POST with the spec's extra citizen fields, the request
/// read back in both formats, and the spec's error format).
#[test]
fn open311_round_trip_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = minqing();
    cmd.args(["demo", "--no-live", "--port", "0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args(["--scale", "0.01"]);
    let (mut server, port) = start_listening(cmd);
    wait_healthy(&mut server, port, Duration::from_secs(120));
    let base = format!("http://127.0.0.1:{port}/open311/v2");

    let (s, ct, body) = curl(&[&format!("{base}/discovery.json")]);
    assert_eq!(
        (s, ct.starts_with("application/json")),
        (200, true),
        "{body}"
    );
    let d: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        d["endpoints"][0]["specification"]
            .as_str()
            .unwrap()
            .contains("GeoReport_v2"),
        "{d}"
    );
    let (s, ct, body) = curl(&[&format!("{base}/services.xml")]);
    assert_eq!(s, 200);
    assert!(
        ct.contains("xml")
            && body.contains("<services>")
            && body.contains("<service_code>dispute</service_code>"),
        "{body}"
    );

    // The demo leader's token is the spec's api_key.
    let (s, _, body) = curl(&[
        "-X",
        "POST",
        &format!("http://127.0.0.1:{port}/api/v1/auth/login"),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"username":"leader","password":"demo-leader-pass"}"#,
    ]);
    assert_eq!(s, 200, "{body}");
    let token = serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let stats = stats(port);
    assert!(stats["building_addresses"].as_u64().unwrap() > 0);
    // A point inside the district: the reverse geocoder's nearest building to its centre.
    let areas: serde_json::Value = {
        let (_, _, b) = curl(&[&format!("http://127.0.0.1:{port}/api/v1/areas?level=grid")]);
        serde_json::from_str(&b).unwrap()
    };
    let ring = &areas["features"][0]["geometry"]["coordinates"][0][0];
    let n = ring.as_array().unwrap().len() as f64;
    let (lon, lat) = ring
        .as_array()
        .unwrap()
        .iter()
        .fold((0.0, 0.0), |(x, y), p| {
            (
                x + p[0].as_f64().unwrap() / n,
                y + p[1].as_f64().unwrap() / n,
            )
        });
    let form = format!(
        "api_key={token}&service_code=dispute&lat={lat}&long={lon}&address_string=测试地址\
         &email=citizen@example.org&device_id=tt222111&account_id=&first_name=某&last_name=某\
         &phone=13800000000&description=楼道堆放杂物引发邻里纠纷&media_url="
    );
    let (s, _, body) = curl(&["-X", "POST", &format!("{base}/requests.json"), "-d", &form]);
    assert_eq!(s, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !body.contains("13800000000"),
        "the citizen's phone is not echoed"
    );

    // Read back: JSON (signed in: the whole request) and XML (public: no description).
    let (s, _, body) = curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("{base}/requests/{id}.json"),
    ]);
    assert_eq!(s, 200, "{body}");
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r[0]["service_request_id"], id.as_str());
    assert_eq!(r[0]["status"], "open");
    assert_eq!(r[0]["service_code"], "dispute");
    assert!(
        r[0]["description"]
            .as_str()
            .unwrap()
            .contains("楼道堆放杂物")
    );
    let (s, ct, body) = curl(&[&format!("{base}/requests/{id}.xml")]);
    assert_eq!(s, 200);
    assert!(
        ct.contains("xml")
            && body.contains(&format!("<service_request_id>{id}</service_request_id>")),
        "{body}"
    );
    assert!(
        !body.contains("楼道堆放杂物"),
        "no description without a token: {body}"
    );

    // The spec's error format: no api_key, unknown service.
    let (s, _, body) = curl(&[
        "-X",
        "POST",
        &format!("{base}/requests.json"),
        "-d",
        "service_code=dispute&lat=1&long=1",
    ]);
    assert_eq!(s, 401);
    let e: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e[0]["code"], 401);
    assert!(e[0]["description"].is_string());
    let (s, _, body) = curl(&[
        "-X",
        "POST",
        &format!("{base}/requests.json"),
        "-d",
        &format!("api_key={token}&service_code=nope&lat=1&long=1"),
    ]);
    assert_eq!(s, 404, "{body}");
}

/// `minqing import` exits 1 when a whole file fails (naming it), after importing the
/// rest; `--suggest-mapping` writes a mapping for a file with the district's own
/// headers, and `--dry-run` with it reports the file's rows and writes nothing.
#[test]
fn import_exits_1_when_a_file_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    // A good file and a workbook that is no workbook.
    std::fs::write(
        files.join("housing.csv"),
        "id,address,address_code,floor_area,occupancy\nH1,光明村1组1号,,80.5,owner\n",
    )
    .unwrap();
    std::fs::write(files.join("buildings.xlsx"), b"PK\x03\x04 not really a zip").unwrap();
    let url = format!("sqlite://{}", tmp.path().join("x.db").display());
    let out = minqing()
        .args(["import", "--database-url", &url])
        .arg(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("buildings.xlsx"), "{stderr}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    // The good file loaded all the same.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("housing.csv") && l.split_whitespace().nth(3) == Some("1")),
        "{stdout}"
    );

    // The district's own headers under its own file name.
    let own = tmp.path().join("own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("房屋台账.csv"),
        "房屋编号,房屋地址,地址编码,建筑面积,居住状态\nH2,光明村1组2号,,60,owner\n",
    )
    .unwrap();
    let mapping = tmp.path().join("mapping.toml");
    let out = minqing()
        .args(["import", "--suggest-mapping"])
        .arg(&mapping)
        .arg(&own)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&mapping).unwrap();
    assert!(text.contains("\"房屋台账.csv\" = \"housing\""), "{text}");
    assert!(text.contains("\"房屋编号\" = \"id\""), "{text}");
    let out = minqing()
        .args(["import", "--dry-run", "--database-url", &url, "--mapping"])
        .arg(&mapping)
        .arg(&own)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("dry run"), "{stdout}");
    assert!(stdout.contains("房屋台账.csv"), "{stdout}");
    // Nothing was written: the real import then loads the record as new.
    let out = minqing()
        .args(["import", "--database-url", &url, "--mapping"])
        .arg(&mapping)
        .arg(&own)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("房屋台账.csv") && l.split_whitespace().nth(3) == Some("1")),
        "{stdout}"
    );
}
