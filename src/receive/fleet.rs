//! The fleet view's source: taskscope's metrics read back from a Prometheus-compatible HTTP
//! API (Prometheus, Thanos, Mimir, VictoriaMetrics) with instant PromQL queries, summed
//! across instances per service (the `job` label), or per instance. Each refresh asks for
//! the cumulative totals, so the dashboard computes its windows, rates and percentiles from
//! them exactly as it does from a receiver's frames; every query is bounded to the
//! functions with the most calls.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::frame::{Dist, Explicit, Frame, KindCount, Series, SeriesKind, SourceStatus};
use crate::words::function::Pattern;
use crate::words::names::{self, label, metric};
use crate::words::outcome::Outcome;

/// Functions (series) a fleet view reads at most, by default: the ones with the most calls.
pub const DEFAULT_FLEET_SERIES: usize = 2000;
/// The time a refresh's queries have, together.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// What went wrong setting up a fleet view.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The URL is not an `http://` URL.
    #[error(
        "`{0}` is not a Prometheus URL: write http://HOST:PORT (the server's base URL, without /api/v1)"
    )]
    Url(String),
    /// The runtime for the queries could not start.
    #[error("the fleet view's runtime did not start: {0}")]
    Runtime(std::io::Error),
}

/// The fleet view: `taskscope top --prometheus URL`. [`frame`](PrometheusSource::frame)
/// queries the server and returns the totals as a [`Frame`]; an unreachable server is a
/// status line (the last totals stay on screen), never a failure.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let fleet = taskscope::receive::PrometheusSource::new("http://127.0.0.1:9090")?;
/// taskscope::top().with_prometheus(fleet).run()?;
/// # Ok(())
/// # }
/// ```
pub struct PrometheusSource {
    /// The queries' settings, until the first frame hands them to the querying thread.
    querier: Option<Querier>,
    started: Instant,
    /// What the querying thread read last.
    latest: Arc<Latest>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What asks the server: its settings, runtime and client.
struct Querier {
    base: String,
    by_instance: bool,
    max_series: usize,
    interval: Duration,
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Empty<Bytes>>,
}

/// The latest answer, shared with the querying thread.
#[derive(Default)]
struct Latest {
    state: std::sync::Mutex<(Vec<Arc<Series>>, SourceStatus)>,
    stop: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("querying", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for PrometheusSource {
    fn drop(&mut self) {
        self.latest
            .stop
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A sample's labels.
type Labels = HashMap<String, String>;
/// One query's answer: each sample's labels and value (or native histogram).
type Samples = Vec<(Labels, Sample)>;
/// Labels as a sorted list, to key a map by.
type LabelKey = Vec<(String, String)>;

enum Sample {
    Value(f64),
    Histogram(Explicit),
}

/// The answers of one refresh, one per query.
struct Answers {
    outcomes: Samples,
    kinds: Samples,
    in_flight: Samples,
    buckets: Samples,
    sums: Samples,
    native: Samples,
    busy: Samples,
    polls: Samples,
    slow_polls: Samples,
}

impl PrometheusSource {
    /// A fleet view of the server at `url` (`http://host:9090`), summed per service.
    pub fn new(url: &str) -> Result<PrometheusSource, FleetError> {
        let base = url.trim().trim_end_matches('/');
        let Some(rest) = base.strip_prefix("http://") else {
            return Err(FleetError::Url(url.to_string()));
        };
        if rest.is_empty() || rest.contains(['?', '#', ' ']) {
            return Err(FleetError::Url(url.to_string()));
        }
        let runtime = crate::background::runtime_builder()
            .build()
            .map_err(FleetError::Runtime)?;
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new()).build_http()
        };
        let status = SourceStatus {
            label: format!("Prometheus {base}"),
            connection: "waiting for data".into(),
            ..SourceStatus::default()
        };
        let latest = Latest::default();
        *latest.state.lock().unwrap_or_else(PoisonError::into_inner) = (Vec::new(), status);
        Ok(PrometheusSource {
            querier: Some(Querier {
                base: base.to_string(),
                by_instance: false,
                max_series: DEFAULT_FLEET_SERIES,
                interval: Duration::from_secs(1),
                runtime,
                client,
            }),
            started: Instant::now(),
            latest: Arc::new(latest),
            thread: None,
        })
    }

    /// One row per instance (`job · instance`) instead of one per service: the drill-down.
    pub fn by_instance(mut self, by_instance: bool) -> Self {
        if let Some(q) = &mut self.querier {
            q.by_instance = by_instance;
        }
        self
    }

    /// Reads at most `n` functions, the ones with the most calls (default
    /// [`DEFAULT_FLEET_SERIES`]).
    pub fn with_max_series(mut self, n: usize) -> Self {
        if let Some(q) = &mut self.querier {
            q.max_series = n.max(1);
        }
        self
    }

    /// Asks the server this often (default every second; a refresh that takes longer
    /// starts the next at once).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        if let Some(q) = &mut self.querier {
            q.interval = interval;
        }
        self
    }

    /// The totals the server gave last. The first frame is empty and starts the thread that
    /// asks the server at every interval, so the dashboard never waits for a query and its
    /// windows count every call the server holds, as a receiver counts a sender's first
    /// export whole.
    pub fn frame(&mut self) -> Frame {
        let at = self.started.elapsed();
        if let Some(querier) = self.querier.take() {
            let latest = self.latest.clone();
            match crate::background::spawn("taskscope-fleet", move || querier.run(&latest)) {
                Ok(t) => self.thread = Some(t),
                Err(e) => {
                    let mut state = self
                        .latest
                        .state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    state.1.connection = "not querying".into();
                    state.1.last_rejection =
                        Some(format!("the fleet view's thread did not start: {e}"));
                }
            }
            let state = self
                .latest
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            return Frame {
                at,
                series: Vec::new(),
                status: state.1.clone(),
                tasks: None,
                runtimes: Vec::new(),
            };
        }
        let state = self
            .latest
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Frame {
            at,
            series: state.0.clone(),
            status: state.1.clone(),
            tasks: None,
            runtimes: Vec::new(),
        }
    }
}

impl Querier {
    /// Asks the server at every interval until told to stop.
    fn run(self, latest: &Latest) {
        use std::sync::atomic::Ordering;
        while !latest.stop.load(Ordering::Acquire) {
            let asked = Instant::now();
            let answer = self.read();
            {
                let mut state = latest.state.lock().unwrap_or_else(PoisonError::into_inner);
                let (series, status) = &mut *state;
                match answer {
                    Ok(read) => {
                        let mut services: Vec<&str> = read.iter().map(|s| &*s.service).collect();
                        services.sort_unstable();
                        services.dedup();
                        status.services = services.len();
                        *series = read;
                        status.connection =
                            format!("live, queried in {} ms", asked.elapsed().as_millis());
                        status.last_rejection = None;
                    }
                    Err(why) => {
                        status.connection = "unreachable".into();
                        status.last_rejection = Some(why);
                    }
                }
            }
            // Sleep out the interval in short steps, so that a drop ends the thread soon.
            while asked.elapsed() < self.interval && !latest.stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(20).min(self.interval));
            }
        }
    }

    /// The label set of a row.
    fn group(&self) -> &'static str {
        if self.by_instance {
            "job, instance, code_function_name"
        } else {
            "job, code_function_name"
        }
    }

    /// A query bounded to the functions with the most calls.
    fn bounded(&self, q: &str) -> String {
        let g = self.group();
        let calls = metric::CALLS.prometheus;
        format!(
            "({q}) and on({g}) topk({}, sum by ({g}) ({calls}_total))",
            self.max_series
        )
    }

    /// The refresh's queries after the first (calls by outcome), in the order of
    /// [`Answers`]' fields.
    fn rest(&self) -> [String; 8] {
        let g = self.group();
        let calls = metric::CALLS.prometheus;
        let duration = metric::DURATION.prometheus;
        let busy = metric::BUSY.prometheus;
        [
            format!(
                "sum by ({g}, {}) ({calls}_total{{{}=\"error\"}})",
                label::ERROR_TYPE,
                label::OUTCOME
            ),
            format!("sum by ({g}) ({})", metric::CONCURRENT.prometheus),
            format!("sum by ({g}, le) ({duration}_bucket)"),
            format!("sum by ({g}) ({duration}_sum)"),
            format!("sum by ({g}) ({duration})"),
            format!("sum by ({g}) ({busy}_sum) or histogram_sum(sum by ({g}) ({busy}))"),
            format!("sum by ({g}) ({}_total)", metric::POLLS.prometheus),
            format!("sum by ({g}) ({}_total)", metric::SLOW_POLLS.prometheus),
        ]
    }

    /// Asks the calls by outcome first, bounded to the functions with the most calls; the
    /// other queries then go together, bounded the same way only when the first answer
    /// reached the bound (the bound's `topk` costs the server a pass over every series).
    fn read(&self) -> Result<Vec<Arc<Series>>, String> {
        let g = self.group();
        let first = self.bounded(&format!(
            "sum by ({g}, {}, {}) ({}_total)",
            label::KIND,
            label::OUTCOME,
            metric::CALLS.prometheus
        ));
        let (outcomes, rest) = self.runtime.block_on(async {
            let all = async {
                let outcomes = self.query(&first).await?;
                let functions = {
                    let mut f: Vec<(Option<&String>, Option<&String>, Option<&String>)> = outcomes
                        .iter()
                        .map(|(l, _)| (l.get("job"), l.get("instance"), l.get(label::FUNCTION)))
                        .collect();
                    f.sort_unstable();
                    f.dedup();
                    f.len()
                };
                let rest = self.rest().map(|q| {
                    if functions >= self.max_series {
                        self.bounded(&q)
                    } else {
                        q
                    }
                });
                let [a, b, c, d, e, f, h, i] = &rest;
                let answers = tokio::join!(
                    self.query(a),
                    self.query(b),
                    self.query(c),
                    self.query(d),
                    self.query(e),
                    self.query(f),
                    self.query(h),
                    self.query(i)
                );
                Ok::<_, String>((outcomes, answers))
            };
            tokio::time::timeout(QUERY_TIMEOUT, all)
                .await
                .map_err(|_| format!("no answer from {} within {QUERY_TIMEOUT:?}", self.base))?
        })?;
        let (kinds, in_flight, buckets, sums, native, busy, polls, slow_polls) = rest;
        let answers = Answers {
            outcomes,
            kinds: kinds?,
            in_flight: in_flight?,
            buckets: buckets?,
            sums: sums?,
            native: native?,
            busy: busy?,
            polls: polls?,
            slow_polls: slow_polls?,
        };
        Ok(rows_of(answers, self.by_instance))
    }

    /// One instant query.
    async fn query(&self, promql: &str) -> Result<Samples, String> {
        let uri = format!("{}/api/v1/query?query={}", self.base, encode(promql));
        let uri: hyper::Uri = uri.parse().map_err(|e| format!("{}: {e}", self.base))?;
        let answer = self
            .client
            .get(uri)
            .await
            .map_err(|e| format!("{}: {e}", self.base))?;
        let status = answer.status();
        let body = Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{}: reading the answer: {e}", self.base))?
            .to_bytes();
        let json: Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "{} answered {status} with no Prometheus API JSON ({e}): is it a Prometheus-compatible server?",
                self.base
            )
        })?;
        if json["status"] != "success" {
            return Err(format!(
                "{} refused a query: {}",
                self.base,
                json["error"].as_str().unwrap_or("no reason given")
            ));
        }
        Ok(samples(&json["data"]["result"]))
    }
}

/// The rows of one refresh, one per service (or instance) and function.
fn rows_of(a: Answers, by_instance: bool) -> Vec<Arc<Series>> {
    let mut rows: HashMap<(String, String), Series> = HashMap::new();
    for (labels, s) in &a.outcomes {
        let (Sample::Value(v), Some(o)) = (
            s,
            labels.get(label::OUTCOME).and_then(|o| Outcome::parse(o)),
        ) else {
            continue;
        };
        let r = row(&mut rows, labels, by_instance);
        r.calls[o] += count(*v);
        if let Some(p) = labels.get(label::KIND).and_then(|k| Pattern::parse(k)) {
            r.pattern = p;
        }
    }
    for (labels, s) in &a.kinds {
        if let (Sample::Value(v), Some(k)) = (s, labels.get(label::ERROR_TYPE)) {
            row(&mut rows, labels, by_instance)
                .error_kinds
                .push(KindCount {
                    kind: k.as_str().into(),
                    count: count(*v),
                    last_seen: None,
                });
        }
    }
    let values = |samples: &Samples| -> Vec<(HashMap<String, String>, f64)> {
        samples
            .iter()
            .filter_map(|(l, s)| match s {
                Sample::Value(v) => Some((l.clone(), *v)),
                Sample::Histogram(_) => None,
            })
            .collect()
    };
    for (labels, v) in values(&a.in_flight) {
        row(&mut rows, &labels, by_instance).in_flight = v.round() as i64;
    }
    for (labels, v) in values(&a.busy) {
        let r = row(&mut rows, &labels, by_instance);
        r.busy_seconds = v;
        r.has_busy = true;
    }
    for (labels, v) in values(&a.polls) {
        row(&mut rows, &labels, by_instance).polls = count(v);
    }
    for (labels, v) in values(&a.slow_polls) {
        row(&mut rows, &labels, by_instance).slow_polls = count(v);
    }
    for (labels, dist) in classic(&a.buckets, &a.sums) {
        row(&mut rows, &labels, by_instance).latency = Dist::Explicit(dist);
    }
    for (labels, s) in a.native {
        if let Sample::Histogram(h) = s {
            let r = row(&mut rows, &labels, by_instance);
            if r.latency.count() == 0 {
                r.latency = Dist::Explicit(h);
            }
        }
    }
    let mut series: Vec<Arc<Series>> = rows.into_values().map(Arc::new).collect();
    series.sort_by_key(|s| s.key());
    series
}

/// Classic buckets (cumulative by `le`) and their sums, as a distribution per label set.
fn classic(buckets: &Samples, sums: &Samples) -> Vec<(HashMap<String, String>, Explicit)> {
    let mut by_set: HashMap<LabelKey, (Labels, Vec<(f64, f64)>)> = HashMap::new();
    let key = |labels: &Labels| {
        let mut k: LabelKey = labels
            .iter()
            .filter(|(n, _)| n.as_str() != "le")
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        k.sort();
        k
    };
    for (labels, s) in buckets {
        let (Sample::Value(v), Some(le)) = (s, labels.get("le")) else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        let entry = by_set.entry(key(labels)).or_insert_with(|| {
            let mut l = labels.clone();
            l.remove("le");
            (l, Vec::new())
        });
        entry.1.push((le, *v));
    }
    let sum_of: HashMap<LabelKey, f64> = sums
        .iter()
        .filter_map(|(l, s)| match s {
            Sample::Value(v) => Some((key(l), *v)),
            Sample::Histogram(_) => None,
        })
        .collect();
    by_set
        .into_iter()
        .map(|(k, (labels, mut les))| {
            les.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (mut bounds, mut counts, mut below) = (Vec::new(), Vec::new(), 0.0);
            for (le, cumulative) in les {
                counts.push(count(cumulative - below));
                below = cumulative;
                if le.is_finite() {
                    bounds.push(le);
                }
            }
            if counts.len() == bounds.len() {
                counts.push(0);
            }
            let dist = Explicit {
                bounds,
                counts,
                sum: sum_of.get(&k).copied().unwrap_or(0.0),
                min: None,
                max: None,
            };
            (labels, dist)
        })
        .collect()
}

/// The row of a sample's labels: its service (`job`, or `job · instance`) and function.
fn row<'a>(
    rows: &'a mut HashMap<(String, String), Series>,
    labels: &HashMap<String, String>,
    by_instance: bool,
) -> &'a mut Series {
    let service = match (labels.get("job"), labels.get("instance")) {
        (Some(j), Some(i)) if by_instance => format!("{j} · {i}"),
        (Some(j), _) => j.clone(),
        _ => crate::receive::UNKNOWN_SERVICE.to_string(),
    };
    let function = labels.get(label::FUNCTION).cloned().unwrap_or_default();
    rows.entry((service.clone(), function.clone()))
        .or_insert_with(|| {
            let (module, name) = names::split_qualified(&function);
            Series::new(&service, name, module, SeriesKind::Function)
        })
}

/// A float count as a whole number.
fn count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

/// Percent-encodes a query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The samples of an instant vector: `value` or native `histogram`.
fn samples(result: &Value) -> Samples {
    let Some(items) = result.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let labels: HashMap<String, String> = item["metric"]
                .as_object()?
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect();
            if let Some(v) = item["value"].get(1).and_then(Value::as_str) {
                return Some((labels, Sample::Value(v.parse().ok()?)));
            }
            let h = item["histogram"].get(1)?;
            Some((labels, Sample::Histogram(native(h)?)))
        })
        .collect()
}

/// A native histogram of the API (`count`, `sum`, `buckets` of `[rule, lower, upper,
/// count]`) as explicit buckets: its own boundaries, gaps between them empty.
fn native(h: &Value) -> Option<Explicit> {
    let num = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    let mut spans: Vec<(f64, f64, f64)> = h["buckets"]
        .as_array()?
        .iter()
        .filter_map(|b| Some((num(&b[1])?, num(&b[2])?, num(&b[3])?)))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut bounds: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for (lo, hi, c) in spans {
        if bounds.last() != Some(&lo) {
            bounds.push(lo);
            counts.push(0);
        }
        bounds.push(hi);
        counts.push(count(c));
    }
    counts.push(0);
    Some(Explicit {
        bounds,
        counts,
        sum: num(&h["sum"]).unwrap_or(0.0),
        min: None,
        max: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_answer_becomes_samples_and_native_buckets_explicit_ones() {
        let json: Value = serde_json::from_str(
            r#"[{"metric":{"job":"api","code_function_name":"a::f"},"value":[1,"12"]},
                {"metric":{"job":"api"},"histogram":[1,{"count":"3","sum":"0.6",
                  "buckets":[[0,"0.1","0.2","1"],[0,"0.4","0.8","2"]]}]}]"#,
        )
        .unwrap();
        let s = samples(&json);
        assert_eq!(s.len(), 2);
        assert!(matches!(s[0].1, Sample::Value(v) if v == 12.0));
        let Sample::Histogram(h) = &s[1].1 else {
            panic!("a histogram")
        };
        assert_eq!(
            h.bounds,
            [0.1, 0.2, 0.4, 0.8],
            "the gap 0.2..0.4 is an empty bucket"
        );
        assert_eq!(h.counts, [0, 1, 0, 2, 0]);
        assert_eq!(h.sum, 0.6);
    }

    #[test]
    fn classic_buckets_become_a_distribution_with_their_sum() {
        let l = |le: &str| {
            HashMap::from([
                ("job".to_string(), "api".to_string()),
                ("le".to_string(), le.to_string()),
            ])
        };
        let buckets: Samples = vec![
            (l("+Inf"), Sample::Value(10.0)),
            (l("0.1"), Sample::Value(4.0)),
            (l("0.5"), Sample::Value(9.0)),
        ];
        let sums: Samples = vec![(
            HashMap::from([("job".to_string(), "api".to_string())]),
            Sample::Value(2.5),
        )];
        let out = classic(&buckets, &sums);
        assert_eq!(out.len(), 1);
        let (labels, d) = &out[0];
        assert!(!labels.contains_key("le"));
        assert_eq!(
            (d.bounds.clone(), d.counts.clone()),
            (vec![0.1, 0.5], vec![4, 5, 1])
        );
        assert_eq!(d.sum, 2.5);
    }

    #[test]
    fn only_http_urls_are_taken() {
        for bad in [
            "",
            "prometheus:9090",
            "https://p:9090",
            "http://",
            "http://a b",
        ] {
            let e = PrometheusSource::new(bad).unwrap_err().to_string();
            assert!(e.contains("http://HOST:PORT"), "{bad}: {e}");
        }
        assert!(PrometheusSource::new("http://127.0.0.1:9090/").is_ok());
    }
}
