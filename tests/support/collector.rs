//! A real OTLP collector for the tests: the `rotel` agent from PyPI, started on free
//! loopback ports, its debug output (what it received) read back as text.
//!
//! `.ci/run` installs rotel into a venv and sets `TASKSCOPE_ROTEL` to the binary. Without
//! the variable, the first test installs it into a venv under the target directory
//! (`python3 -m venv` and `pip install rotel`, about 10 s once), so `cargo test` needs no
//! manual step.
#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The rotel binary (`TASKSCOPE_ROTEL`, else installed from PyPI into a venv on first
/// use, with Debian's libpython3.11 when the binary needs it).
pub fn rotel_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TASKSCOPE_ROTEL") {
        return PathBuf::from(path);
    }
    let python = super::provision::python_venv("rotel", &["rotel"]);
    let out = Command::new(python)
        .args([
            "-c",
            "import rotel,pathlib;print(pathlib.Path(rotel.__file__).parent/'rotel-agent')",
        ])
        .output()
        .unwrap();
    let binary = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    // rotel links libpython3.11, which a machine without a Python of its own lacks.
    let linked = Command::new("ldd").arg(&binary).output();
    if linked.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("not found")) {
        super::provision::apt_install(&["libpython3.11"]);
    }
    binary
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running collector; killed on drop.
pub struct Collector {
    pub grpc_port: u16,
    pub http_port: u16,
    output: PathBuf,
    child: Option<Child>,
    /// The exporter's arguments: the debug log's blackhole, or a forward to another
    /// receiver.
    exporter: Vec<String>,
}

impl Collector {
    /// Starts rotel on two free ports and waits until both accept connections.
    pub fn start(name: &str) -> Self {
        let mut c = Self::not_started(name);
        c.restart();
        c
    }

    /// Starts rotel forwarding what it receives with its own OTLP exporter, given these
    /// `--otlp-exporter-*` arguments (its defaults otherwise: gRPC and gzip).
    pub fn forwarding(name: &str, exporter: &[&str]) -> Self {
        let mut c = Self::not_started(name);
        c.exporter = ["--exporter", "otlp"]
            .iter()
            .chain(exporter)
            .map(|s| s.to_string())
            .collect();
        c.restart();
        c
    }

    /// Picks the ports and the output file, without starting the process: a collector
    /// that is down.
    pub fn not_started(name: &str) -> Self {
        let c = Collector {
            grpc_port: free_port(),
            http_port: free_port(),
            output: Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("rotel-{name}-{}.out", std::process::id())),
            child: None,
            exporter: vec!["--exporter".into(), "blackhole".into()],
        };
        let _ = std::fs::remove_file(&c.output);
        c
    }

    /// (Re)starts the process on the same ports, appending to the same output.
    pub fn restart(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.output)
            .unwrap();
        let child = Command::new(rotel_binary())
            .arg("start")
            .arg("--otlp-grpc-endpoint")
            .arg(format!("127.0.0.1:{}", self.grpc_port))
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{}", self.http_port))
            .args([
                "--debug-log",
                "metrics",
                "--debug-log",
                "traces",
                "--debug-log-verbosity",
                "detailed",
            ])
            .args(&self.exporter)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("rotel starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [self.grpc_port, self.http_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rotel did not listen on {port}: {}",
                    self.output()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the process (the ports become free).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Everything the collector printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// Waits until the output contains `needle` (the debug log lags the request a little).
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the collector's output:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Collector {
    /// Waits until the last complete export that mentions `function` (one whose final
    /// metric, the exporter's drop counter, has been printed) satisfies `done`, and returns
    /// it. The collector prints a request a little after it acknowledged it.
    pub fn wait_for_export(
        &self,
        function: &str,
        done: impl Fn(&[Point]) -> bool,
    ) -> (Vec<(String, String)>, Vec<Point>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.output();
            let complete = out
                .split("ResourceMetrics #0")
                .filter(|b| mentions(b, function))
                .filter(|b| {
                    b.split("-> Name: taskscope.export.dropped")
                        .nth(1)
                        .is_some_and(|rest| rest.contains("Value: "))
                })
                .last()
                .map(parse);
            if let Some((resource, points)) = complete
                && done(&points)
            {
                return (resource, points);
            }
            assert!(
                Instant::now() < deadline,
                "no complete export of {function} as expected in 20 s:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One data point as the collector printed it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Point {
    pub metric: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub value: Option<f64>,
    pub count: Option<u64>,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Count per printed bucket, in order.
    pub buckets: Vec<u64>,
    /// Trace ids of the point's exemplars.
    pub exemplar_traces: Vec<String>,
}

/// Resource attributes and data points of the last request in the output that mentions
/// `function` (cumulative export: the last one holds the totals).
pub fn last_export(output: &str, function: &str) -> (Vec<(String, String)>, Vec<Point>) {
    let blocks: Vec<&str> = output.split("ResourceMetrics #0").collect();
    let block = blocks
        .iter()
        .rev()
        .find(|b| mentions(b, function))
        .unwrap_or_else(|| panic!("no export mentions {function}:\n{output}"));
    parse(block)
}

/// Whether a printed request has points of `function` (its `code.function.name` is
/// `module::function`).
fn mentions(block: &str, function: &str) -> bool {
    let short = format!("::{function})");
    block.lines().any(|l| {
        l.trim()
            .strip_prefix("-> code.function.name: Str(")
            .is_some_and(|rest| format!("::{rest}").ends_with(&short))
    })
}

fn attr(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix("-> ")?;
    let (k, v) = rest.split_once(": ")?;
    let v = ["Str(", "Int(", "Bool("]
        .iter()
        .find_map(|p| v.strip_prefix(p))?
        .strip_suffix(')')?;
    Some((k.to_owned(), v.to_owned()))
}

fn parse(block: &str) -> (Vec<(String, String)>, Vec<Point>) {
    #[derive(PartialEq)]
    enum In {
        Resource,
        Descriptor,
        Point,
    }
    let mut resource = Vec::new();
    let mut points: Vec<Point> = Vec::new();
    let mut metric = String::new();
    let mut state = In::Resource;
    for line in block.lines() {
        let t = line.trim();
        if t.starts_with("Resource attributes:") {
            state = In::Resource;
        } else if t.starts_with("Descriptor:") {
            state = In::Descriptor;
        } else if t.starts_with("NumberDataPoints #")
            || t.starts_with("ExponentialHistogramDataPoints #")
            || t.starts_with("HistogramDataPoints #")
        {
            state = In::Point;
            points.push(Point {
                metric: metric.clone(),
                ..Point::default()
            });
        } else if let Some(name) = t.strip_prefix("-> Name: ") {
            metric = name.to_owned();
        } else if let Some((k, v)) = attr(t) {
            match state {
                In::Resource => resource.push((k, v)),
                In::Point => {
                    let attributes = &mut points.last_mut().unwrap().attributes;
                    // The short name, after the module, as dashboards show it.
                    if k == "code.function.name" {
                        let short = v.rsplit("::").next().unwrap_or(&v).to_owned();
                        attributes.insert("function".to_owned(), short);
                    }
                    attributes.insert(k, v);
                }
                In::Descriptor => {}
            }
        } else if state == In::Point {
            let p = points.last_mut().unwrap();
            let num = |s: &str| s.trim().parse::<f64>().ok();
            if let Some(v) = t.strip_prefix("-> Trace ID: ") {
                p.exemplar_traces.push(v.trim().to_owned());
            } else if let Some(v) = t.strip_prefix("Value: ") {
                p.value = num(v);
            } else if let Some(v) = t.strip_prefix("Count: ") {
                p.count = v.trim().parse().ok();
            } else if let Some(v) = t.strip_prefix("Sum: ") {
                p.sum = num(v);
            } else if let Some(v) = t.strip_prefix("Min: ") {
                p.min = num(v);
            } else if let Some(v) = t.strip_prefix("Max: ") {
                p.max = num(v);
            } else if (t.starts_with("Bucket ") || t.starts_with("Buckets #"))
                && let Some(c) = t
                    .rsplit("Count: ")
                    .next()
                    .and_then(|c| c.trim().parse().ok())
            {
                p.buckets.push(c);
            }
        }
    }
    (resource, points)
}

/// The points of one metric whose attributes include all of `with`.
pub fn find<'a>(points: &'a [Point], metric: &str, with: &[(&str, &str)]) -> Vec<&'a Point> {
    points
        .iter()
        .filter(|p| p.metric == metric)
        .filter(|p| {
            with.iter()
                .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// One span as the collector printed it.
#[derive(Clone, Debug, Default)]
pub struct SpanOut {
    pub trace_id: String,
    pub parent_id: String,
    pub name: String,
    pub status: String,
    pub message: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub events: Vec<String>,
}

/// Every span in the output.
pub fn spans(output: &str) -> Vec<SpanOut> {
    let mut out = Vec::new();
    for chunk in output.split("Span #").skip(1) {
        let mut span = SpanOut::default();
        for line in chunk.lines() {
            let t = line.trim();
            if t.starts_with("ResourceMetrics") || t.starts_with("ResourceSpans") {
                break;
            }
            let field = |prefix: &str| {
                t.strip_prefix(prefix)
                    .map(|v| v.trim_start_matches([' ', ':']).trim().to_owned())
            };
            if let Some(v) = field("Trace ID") {
                span.trace_id = v;
            } else if let Some(v) = field("Parent ID") {
                span.parent_id = v;
            } else if let Some(v) = field("Name           :") {
                span.name = v;
            } else if let Some(v) = field("Status code") {
                span.status = v;
            } else if let Some(v) = field("Status message") {
                span.message = v;
            } else if let Some(v) = t.strip_prefix("-> Name: ") {
                span.events.push(v.to_owned());
            } else if let Some((k, v)) = attr(t) {
                span.attributes.insert(k, v);
            }
        }
        out.push(span);
    }
    out
}

/// The `function.calls` total of `function` at the collector, for an outcome written as
/// `ok` or `error:Kind` (one error kind), summed over the points given.
pub fn calls_at(points: &[Point], function: &str, outcome: &str) -> u64 {
    let (outcome, kind) = match outcome.split_once(':') {
        Some((o, k)) => (o, Some(k)),
        None => (outcome, None),
    };
    let mut with = vec![("function", function), ("taskscope.outcome", outcome)];
    if let Some(k) = kind {
        with.push(("error.type", k));
    }
    find(points, "function.calls", &with)
        .iter()
        .map(|p| p.value.expect("a counter has a value") as u64)
        .sum()
}

impl Collector {
    /// Waits for the export whose `function.calls` equal every expected
    /// `(function, outcome, calls)` (outcomes as [`calls_at`] reads them), asserts each, and
    /// returns that export's points. `probe` is a function every export holds.
    pub fn wait_for_calls(&self, probe: &str, expected: &[(&str, &str, u64)]) -> Vec<Point> {
        let matches = |points: &[Point]| {
            expected
                .iter()
                .all(|&(f, o, calls)| calls_at(points, f, o) == calls)
        };
        let (_, points) = self.wait_for_export(probe, matches);
        for &(f, o, calls) in expected {
            assert_eq!(calls_at(&points, f, o), calls, "collector: {f} {o}");
        }
        points
    }
}
