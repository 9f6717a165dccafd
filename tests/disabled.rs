//! The compile-time switch: with the `disabled` feature, `#[measure]` expands to the bare
//! function. CI runs this file with `--features disabled`; without the feature it checks
//! the opposite, so both builds are pinned.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

#[taskscope::measure]
async fn measured_or_not(n: u64) -> u64 {
    let buf = [n as u8; 1024];
    std::future::ready(()).await;
    buf.iter().map(|&b| u64::from(b)).sum()
}

async fn bare(n: u64) -> u64 {
    let buf = [n as u8; 1024];
    std::future::ready(()).await;
    buf.iter().map(|&b| u64::from(b)).sum()
}

#[tokio::test]
async fn the_feature_decides_whether_calls_are_recorded() {
    assert_eq!(measured_or_not(1).await, 1024);
    let recorded = taskscope::snapshot().function("measured_or_not").is_some();
    let measured = std::mem::size_of_val(&measured_or_not(1));
    let plain = std::mem::size_of_val(&bare(1));
    if cfg!(feature = "disabled") {
        assert!(!recorded);
        assert_eq!(measured, plain, "the bare function, nothing added");
        assert_eq!(taskscope::measure_block!("blk", { 5 }), 5);
        assert!(taskscope::snapshot().function("blk").is_none());
    } else {
        assert!(recorded);
        assert!(measured > plain);
    }
}

struct Svc;

#[taskscope::measure]
impl Svc {
    fn kept(&self) -> u8 {
        1
    }

    #[measure(skip)]
    fn skipped(&self) -> u8 {
        2
    }
}

#[test]
fn a_measured_impl_block_with_skip_compiles_either_way() {
    assert_eq!(Svc.kept() + Svc.skipped(), 3);
    let recorded = taskscope::snapshot().function("Svc::kept").is_some();
    assert_eq!(recorded, !cfg!(feature = "disabled"));
}

#[tokio::test]
async fn the_pattern_helpers_record_nothing_when_disabled() {
    let pool = taskscope::patterns::Semaphore::new("disabled_pool", 1);
    drop(pool.acquire().await.unwrap());
    let (tx, mut rx) = taskscope::patterns::channel::<u8>("disabled_jobs", 1);
    tx.send(1).await.unwrap();
    assert_eq!(rx.recv().await, Some(1));
    let out = taskscope::spawn_blocking!("disabled_blocking", || 3)
        .await
        .unwrap();
    assert_eq!(out, 3);
    let snap = taskscope::snapshot();
    for name in [
        "disabled_pool.wait",
        "disabled_jobs.queue",
        "disabled_blocking",
    ] {
        assert_eq!(
            snap.function(name).map(|f| f.calls()).unwrap_or(0) > 0,
            !cfg!(feature = "disabled"),
            "{name}"
        );
    }
}
