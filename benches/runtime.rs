//! The runtime monitor's cost: one reading of a 2-worker runtime holding 1000 idle tasks
//! (tokio-metrics' interval, tokio's per-worker counters, the published reading), and the
//! CPU time its thread really uses, read from the kernel (`/proc/self/task/*/schedstat`,
//! nanoseconds on a CPU) over 500 readings at a 10 ms interval, with the share of a core
//! that makes at the default 1 s interval. Run: `cargo bench --bench runtime --features
//! runtime`.

use std::time::Duration;

use criterion::{Criterion, criterion_group};

fn runtime_with_idle_tasks() -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..1000 {
        rt.spawn(std::future::pending::<()>());
    }
    rt
}

fn one_reading(c: &mut Criterion) {
    let rt = runtime_with_idle_tasks();
    let mut read = taskscope::__private::runtime_reader_for_bench("bench", rt.handle());
    c.bench_function("runtime_monitor/one_reading", |b| b.iter(&mut read));
}

/// CPU time of the thread named `name`, in nanoseconds.
fn thread_cpu_ns(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            return stat.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

/// The monitor's thread as it runs: its CPU time over 500 readings.
fn monitor_thread() {
    let rt = runtime_with_idle_tasks();
    let interval = Duration::from_millis(10);
    let readings = 500;
    let monitor = taskscope::runtime()
        .with_runtime("bench", rt.handle())
        .with_interval(interval)
        .start()
        .unwrap();
    // Linux cuts thread names to 15 bytes.
    let name = "taskscope-runti";
    std::thread::sleep(interval / 2);
    let Some(before) = thread_cpu_ns(name) else {
        println!("runtime_monitor/thread: no schedstat for the monitor's thread here");
        return;
    };
    std::thread::sleep(interval * readings);
    let after = thread_cpu_ns(name).unwrap_or(before);
    drop(monitor);
    let per_reading = (after - before) as f64 / f64::from(readings);
    println!(
        "runtime_monitor/thread: {:.1} µs of CPU per reading (wake-up included), {:.4} % of a core at the default 1 s interval",
        per_reading / 1e3,
        per_reading / 1e9 * 100.0
    );
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

criterion_group! { name = benches; config = config(); targets = one_reading }

fn main() {
    benches();
    monitor_thread();
    Criterion::default().configure_from_args().final_summary();
}
