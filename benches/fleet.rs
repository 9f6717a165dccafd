//! The fleet view's cost per refresh (`taskscope top --prometheus URL`): the nine instant
//! queries of one refresh and the rows made from their answers (on the source's own
//! thread, timed by it), and what the dashboard's thread pays per frame, against a real Prometheus (Debian's `prometheus` on PATH; the tests install it)
//! scraping 100 synthetic instances of 100 functions each (an exposition of taskscope's
//! families served from memory on 100 loopback ports). Run:
//! `cargo bench --bench fleet --features receiver,prometheus`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use taskscope::receive::PrometheusSource;

const INSTANCES: usize = 100;
const FUNCTIONS: usize = 100;
const BOUNDS: [&str; 5] = ["0.005", "0.01", "0.05", "0.1", "+Inf"];

/// One instance's exposition: taskscope's families for 100 functions, two outcomes.
fn exposition(instance: usize) -> String {
    let mut out = String::new();
    for f in 0..FUNCTIONS {
        let name = format!("code_function_name=\"bench::handler_{f}\"");
        for (outcome, n) in [("ok", 1000 + instance), ("error", 10)] {
            let l = format!("{name},taskscope_outcome=\"{outcome}\"");
            out += &format!("function_calls_total{{{l}}} {n}\n");
            out += &format!("function_calls_polls_total{{{l}}} {}\n", 2 * n);
            out += &format!("function_calls_slow_polls_total{{{l}}} 0\n");
            for (i, le) in BOUNDS.iter().enumerate() {
                out += &format!(
                    "function_calls_duration_seconds_bucket{{{l},le=\"{le}\"}} {}\n",
                    n * (i + 1) / BOUNDS.len()
                );
            }
            out += &format!(
                "function_calls_duration_seconds_sum{{{l}}} {}\n",
                n as f64 * 0.02
            );
            out += &format!("function_calls_duration_seconds_count{{{l}}} {n}\n");
            out += &format!(
                "function_calls_busy_seconds_sum{{{l}}} {}\n",
                n as f64 * 0.001
            );
        }
        out += &format!("function_calls_concurrent{{{name}}} 1\n");
    }
    out
}

/// Serves each instance's exposition on a port of its own, forever.
fn serve(instances: usize) -> Vec<SocketAddr> {
    (0..instances)
        .map(|i| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let body = exposition(i);
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            addr
        })
        .collect()
}

struct Server(Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn prometheus(targets: &[SocketAddr]) -> (Server, SocketAddr) {
    let dir = std::env::temp_dir().join(format!("taskscope-fleet-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 2s\nscrape_configs:\n  - job_name: fleet\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus on PATH (cargo test --features full installs it)");
    (Server(child, dir), addr)
}

fn fleet(c: &mut Criterion) {
    let targets = serve(INSTANCES);
    let (_server, addr) = prometheus(&targets);
    let mut source = PrometheusSource::new(&format!("http://{addr}")).unwrap();
    source.frame(); // the first frame is empty by design
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let frame = source.frame();
        let calls: u64 = frame.series.iter().map(|s| s.total_calls()).sum();
        let want = (0..INSTANCES)
            .map(|i| (1010 + i) * FUNCTIONS)
            .sum::<usize>() as u64;
        if frame.series.len() == FUNCTIONS && calls == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never held every instance: {calls}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The queries run on the source's own thread; each refresh's time is in its status.
    let per_refresh = |source: &mut PrometheusSource| -> Vec<u64> {
        let mut seen = Vec::new();
        let mut last = String::new();
        while seen.len() < 10 {
            let c = source.frame().status.connection;
            if c != last {
                if let Some(ms) = c
                    .strip_prefix("live, queried in ")
                    .and_then(|r| r.strip_suffix(" ms"))
                {
                    seen.push(ms.parse().unwrap());
                }
                last = c;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        seen.sort_unstable();
        seen
    };
    let summed = per_refresh(&mut source);
    let mut by_instance = PrometheusSource::new(&format!("http://{addr}"))
        .unwrap()
        .by_instance(true)
        .with_max_series(2 * INSTANCES * FUNCTIONS);
    by_instance.frame();
    let each = per_refresh(&mut by_instance);
    eprintln!(
        "fleet: one refresh's queries, {INSTANCES} instances x {FUNCTIONS} functions: median {} ms (min {}, max {}); one row per instance: median {} ms (min {}, max {})",
        summed[summed.len() / 2],
        summed[0],
        summed[summed.len() - 1],
        each[each.len() / 2],
        each[0],
        each[each.len() - 1]
    );
    // What the dashboard's thread pays per frame: the latest answer, copied.
    let mut g = c.benchmark_group("fleet_100_instances_x_100_functions");
    g.bench_function("frame", |b| b.iter(|| std::hint::black_box(source.frame())));
    g.finish();
}

criterion_group!(benches, fleet);
criterion_main!(benches);
