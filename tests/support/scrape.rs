//! Scraping the endpoint over plain HTTP/1.1, and the Debian `prometheus` and `promtool`
//! the tests run against (`.ci/run` installs them with apt-get).
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP GET: (status, content type, body).
pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("the endpoint accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    // A protobuf body is not text: lossy, the head and a text body are unchanged.
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// Prometheus's `prometheus` or `promtool`, from Debian's `prometheus` (installed when
/// missing).
pub fn tool(name: &str) -> PathBuf {
    super::provision::debian("prometheus", name)
}

/// A real Prometheus scraping `target` every second, on a free loopback port.
pub struct Prometheus {
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Prometheus {
    pub fn scraping(name: &str, target: SocketAddr) -> Self {
        Self::scraping_with_rules(name, target, None)
    }

    /// The same, evaluating a rule file every second.
    pub fn scraping_with_rules(
        name: &str,
        target: SocketAddr,
        rules: Option<&std::path::Path>,
    ) -> Self {
        Self::scraping_with(name, target, rules, &[])
    }

    /// The same, with extra command-line flags (feature flags, say).
    pub fn scraping_with(
        name: &str,
        target: SocketAddr,
        rules: Option<&std::path::Path>,
        flags: &[&str],
    ) -> Self {
        Self::scraping_all(name, &[target], rules, flags)
    }

    /// A real Prometheus scraping every one of `targets` (one job, `app`, an instance each).
    pub fn scraping_all(
        name: &str,
        targets: &[SocketAddr],
        rules: Option<&std::path::Path>,
        flags: &[&str],
    ) -> Self {
        let targets = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("prometheus-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{}scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [{targets}]\n",
                rules
                    .map(|r| format!("rule_files:\n  - {}\n", r.display()))
                    .unwrap_or_default()
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("prometheus starts");
        Prometheus { addr, child, dir }
    }

    /// The result of an instant query, as JSON text.
    pub fn query(&self, promql: &str) -> String {
        self.api("query", promql)
    }

    /// Any `/api/v1/<endpoint>?query=...` answer, as JSON text.
    pub fn api(&self, endpoint: &str, promql: &str) -> String {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        match TcpStream::connect(self.addr) {
            Ok(_) => {
                get(
                    self.addr,
                    &format!("/api/v1/{endpoint}?query={encoded}"),
                    None,
                )
                .2
            }
            Err(_) => String::new(),
        }
    }

    /// Waits until `promql` returns a sample, and returns its value.
    pub fn wait_for_value(&self, promql: &str) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let json = self.query(promql);
            if let Some(v) = first_value(&json) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no data for {promql} within 60 s: {json}\n{}",
                std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The value of the first sample of an instant-query answer.
pub fn first_value(json: &str) -> Option<f64> {
    if !json.contains("\"status\":\"success\"") {
        return None;
    }
    let at = json.find("\"value\":[")?;
    let rest = &json[at..];
    let start = rest.find(",\"")? + 2;
    let end = rest[start..].find('"')? + start;
    rest[start..end].parse().ok()
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every sample value of an instant-query answer (vector results), as text.
pub fn values(json: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(at) = rest.find("\"value\":[") {
        rest = &rest[at + 9..];
        let Some(start) = rest.find(",\"").map(|i| i + 2) else {
            break;
        };
        let Some(len) = rest[start..].find('"') else {
            break;
        };
        out.push(rest[start..start + len].to_owned());
        rest = &rest[start + len..];
    }
    out
}

/// Asserts that `promtool check metrics` accepts an exposition.
pub fn promtool_accepts(body: &str) {
    let mut check = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
