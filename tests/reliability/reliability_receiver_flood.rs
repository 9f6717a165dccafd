//! The dashboard's receiver flooded: 64 senders post full exports (1000 functions each) as
//! fast as they can, while a dashboard loop reads frames and draws. The receiver holds at
//! most four exports' worth of bodies at once: it sheds what it cannot hold with 503s it
//! counts (the count equals the 503s the senders saw), keeps every accepted request's data,
//! and the dashboard keeps drawing throughout.

#![cfg(all(feature = "receiver", feature = "tui"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::otlp::kv;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use taskscope::Outcome;
use taskscope::receive::Receiver;

/// One sender's export: `function.calls` of 1000 functions, cumulative, as delta-free
/// cumulative counts that grow with `round`.
fn export(sender: usize, round: i64) -> Vec<u8> {
    let points = (0..1000)
        .map(|i| NumberDataPoint {
            attributes: vec![
                kv("function", &format!("f{i:04}")),
                kv("module", "flood"),
                kv("outcome", "ok"),
            ],
            start_time_unix_nano: 1,
            time_unix_nano: 2 + round as u64,
            value: Some(number_data_point::Value::AsInt(round)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", &format!("sender-{sender:02}"))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "function.calls".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

#[test]
fn a_flooded_receiver_sheds_with_counted_drops_and_the_dashboard_keeps_drawing() {
    if crate::support::alone(
        module_path!(),
        "a_flooded_receiver_sheds_with_counted_drops_and_the_dashboard_keeps_drawing",
    ) {
        return;
    }
    const SENDERS: usize = 64;
    let receiver = Arc::new(
        Receiver::builder()
            .with_grpc_addr(([127, 0, 0, 1], 0).into())
            .with_http_addr(([127, 0, 0, 1], 0).into())
            .with_max_series(100_000)
            .with_max_request_bytes(256 << 10)
            .with_max_concurrent_requests(4)
            .start()
            .unwrap(),
    );
    let url = format!("http://{}/v1/metrics", receiver.http_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, shed, other) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    // The highest round each sender had accepted.
    let accepted_round: Arc<Vec<AtomicU64>> =
        Arc::new((0..SENDERS).map(|_| AtomicU64::new(0)).collect());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        let (ok, shed, other, accepted_round) = (
            ok.clone(),
            shed.clone(),
            other.clone(),
            accepted_round.clone(),
        );
        senders.push(rt.spawn(async move {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let body = Bytes::from(export(sender, round));
                let request = hyper::Request::post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(Full::new(body))
                    .unwrap();
                match client.request(request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.into_body().collect().await;
                        match status {
                            200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                accepted_round[sender].fetch_max(round as u64, Ordering::Relaxed);
                            }
                            503 => {
                                shed.fetch_add(1, Ordering::Relaxed);
                            }
                            s => {
                                eprintln!("sender {sender}: status {s}");
                                other.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("sender {sender}: {e:?}");
                        other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    // The dashboard: a frame and a draw every 100 ms, through the flood.
    let mut dashboard = taskscope::top().headless(160, 48);
    let start = Instant::now();
    let mut draws = 0;
    let mut slowest = Duration::ZERO;
    let mut seen_series = Vec::new();
    while start.elapsed() < Duration::from_secs(4) {
        let cycle = Instant::now();
        let frame = receiver.frame();
        seen_series.push(frame.series.len());
        dashboard.push(frame);
        std::hint::black_box(dashboard.draw());
        draws += 1;
        slowest = slowest.max(cycle.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Senders finish the request they are in, so every answer is counted on both sides.
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for s in senders {
            s.await.unwrap();
        }
    });

    let (ok, shed, other) = (
        ok.load(Ordering::Relaxed),
        shed.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    let status = receiver.frame().status;
    let stats = receiver.stats();
    eprintln!(
        "{ok} exports accepted, {shed} shed, {other} other; {draws} draws, the slowest \
         {slowest:?}; receiver: {stats:?}"
    );
    assert_eq!(other, 0, "every request answered with 200 or 503");
    assert!(shed > 0, "the flood was shed");
    assert_eq!(status.dropped, shed, "every shed request counted, no more");
    assert_eq!(stats.accepted, ok);
    // The dashboard drew all along, and its data grew while the flood went on.
    // No timing budget here (that is the `top` bench's job); it must simply never stall:
    // at least one frame drawn per second of flood.
    assert!(draws >= 4, "{draws} draws");
    assert!(seen_series.windows(2).all(|w| w[0] <= w[1]));
    assert!(*seen_series.last().unwrap() > 0);
    // Every accepted export's data is there: each sender's series hold the highest round
    // it had accepted (cumulative counts: a later accepted round carries all earlier ones).
    let frame = receiver.frame();
    for (sender, round) in accepted_round.iter().enumerate() {
        let round = round.load(Ordering::Relaxed);
        if round == 0 {
            continue;
        }
        let service = format!("sender-{sender:02}");
        let calls: Vec<u64> = frame
            .series
            .iter()
            .filter(|s| *s.service == *service)
            .map(|s| s.calls[Outcome::Ok])
            .collect();
        assert_eq!(calls.len(), 1000, "{service}");
        assert!(
            calls.iter().all(|&c| c == round),
            "{service}: {:?}",
            &calls[..3]
        );
    }
}
