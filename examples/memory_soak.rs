//! Memory does not grow with the number of calls: 10^8 measured calls spread over 100
//! functions. Run in release (about 4 s each):
//!
//! ```sh
//! cargo run --release --example memory_soak -- 100000000 fixed-clock
//! cargo run --release --example memory_soak -- 100000000
//! ```
//!
//! With `fixed-clock`, every call takes exactly 50 ns of a synthetic clock, so the only thing
//! that could grow is the recorder's bookkeeping: the run must end with exactly the recorder
//! heap it had after the first million calls. With the real clock, a call delayed by
//! preemption can land in a power-of-two range of durations not seen before, which allocates
//! that range's 512-byte bucket chunk (`CHUNK_BYTES`) once; the run checks that growth is whole chunks and
//! under the layout's ceiling (37 chunks per distribution). Both print the recorder's heap
//! bytes (exact, from `taskscope::memory_usage`) and the process's resident memory.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug, taskscope::ErrorKind)]
enum Failure {
    Timeout,
    Refused,
}

macro_rules! functions {
    ($($name:ident)*) => {
        $(
            #[taskscope::measure]
            async fn $name(i: u64) -> Result<u64, Failure> {
                match i % 32 {
                    7 => Err(Failure::Timeout),
                    21 => Err(Failure::Refused),
                    _ => Ok(i),
                }
            }
        )*
        /// Calls function `f` (0 to 99) once, awaited in place.
        async fn call(f: usize, i: u64) -> Result<u64, Failure> {
            let mut k = 0;
            $(
                if k == f { return $name(i).await; }
                k += 1;
            )*
            let _ = k;
            unreachable!()
        }
    };
}

functions! {
    f00 f01 f02 f03 f04 f05 f06 f07 f08 f09 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19
    f20 f21 f22 f23 f24 f25 f26 f27 f28 f29 f30 f31 f32 f33 f34 f35 f36 f37 f38 f39
    f40 f41 f42 f43 f44 f45 f46 f47 f48 f49 f50 f51 f52 f53 f54 f55 f56 f57 f58 f59
    f60 f61 f62 f63 f64 f65 f66 f67 f68 f69 f70 f71 f72 f73 f74 f75 f76 f77 f78 f79
    f80 f81 f82 f83 f84 f85 f86 f87 f88 f89 f90 f91 f92 f93 f94 f95 f96 f97 f98 f99
}

fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Anonymous resident memory in bytes (heap, stacks), from /proc (0 where there is none).
///
/// File-backed pages are left out: the first run of a code page maps it with its neighbours
/// (the kernel's fault-around, 64 KiB), which is the binary being read, not memory growing.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("RssAnon:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn calls(from: u64, to: u64) {
    run(async {
        for i in from..to {
            let _ = std::hint::black_box(call((i % 100) as usize, i).await);
        }
    });
}

/// A clock that moves 25 ns per read: every call's wall and busy time is 50 ns.
fn fixed_clock() -> std::time::Duration {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NOW: AtomicU64 = AtomicU64::new(0);
    std::time::Duration::from_nanos(NOW.fetch_add(25, Ordering::Relaxed))
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000_000);
    let fixed = std::env::args().any(|a| a == "fixed-clock");
    if fixed {
        taskscope::builder().with_clock(fixed_clock).init();
    }
    let warm = 1_000_000.min(total);
    assert_eq!(
        taskscope::memory_usage(),
        0,
        "nothing allocated before the first call"
    );

    calls(0, warm);
    let (heap_warm, rss_warm) = (taskscope::memory_usage(), rss());
    let start = std::time::Instant::now();
    calls(warm, total);
    let elapsed = start.elapsed();
    let (heap_end, rss_end) = (taskscope::memory_usage(), rss());

    let snap = taskscope::snapshot();
    assert_eq!(snap.functions.len(), 100);
    assert_eq!(snap.calls(), total);
    let per_function = heap_end / 100;
    println!("calls                {total}");
    println!("functions            100");
    println!(
        "ns per call (loop)   {:.1}",
        elapsed.as_nanos() as f64 / (total - warm).max(1) as f64
    );
    println!("recorder heap        after {warm}: {heap_warm} B; after {total}: {heap_end} B");
    println!("per function         {per_function} B (one thread, ok + error outcomes)");
    println!("process RSS (anon)   after {warm}: {rss_warm} B; after {total}: {rss_end} B");
    let growth = heap_end.saturating_sub(heap_warm);
    println!("recorder growth      {growth} B");
    if fixed {
        assert_eq!(
            heap_end, heap_warm,
            "the recorder grew after warm-up with fixed durations"
        );
        let rss_growth = rss_end.saturating_sub(rss_warm);
        assert!(
            rss_growth <= 16 * 1024,
            "the process grew by {rss_growth} B after warm-up"
        );
    } else {
        // 100 functions x 2 outcomes x 2 distributions x 37 chunks is the ceiling.
        let chunk = taskscope::__private::CHUNK_BYTES;
        let ceiling = 100 * 2 * 2 * 37 * chunk;
        assert_eq!(growth % chunk, 0, "growth other than whole bucket chunks");
        assert!(heap_end <= ceiling + heap_warm, "over the layout's ceiling");
        println!(
            "chunks added         {} (ceiling of the layout: {} B in all)",
            growth / chunk,
            ceiling
        );
    }
    println!("ok");
}
