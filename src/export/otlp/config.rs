//! The exporter's settings: the builder's, else the standard `OTEL_*` variables, else the
//! defaults; checked once at start-up, with errors that name the setting and the value.

use std::time::Duration;

use hyper::Uri;

use super::{HistogramFormat, OtlpError, Protocol, Temporality};

/// Everything the worker needs, checked.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) protocol: Protocol,
    /// For gRPC, the collector's address; for HTTP, the full URL of the metrics path.
    pub(crate) metrics_endpoint: Uri,
    /// The same for traces.
    pub(crate) traces_endpoint: Uri,
    /// The share of calls exported as spans (0 for none).
    pub(crate) trace_sampling: f64,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) temporality: Temporality,
    pub(crate) histograms: HistogramFormat,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) queue: usize,
    pub(crate) max_attempts: u32,
    /// `OTEL_SDK_DISABLED=true`: checked, and nothing is exported.
    pub(crate) disabled: bool,
}

/// What the builder was given.
#[derive(Clone, Debug, Default)]
pub(crate) struct Requested {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) interval: Option<Duration>,
    pub(crate) temporality: Option<Temporality>,
    pub(crate) histograms: Option<HistogramFormat>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) queue: Option<usize>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) trace_sampling: Option<f64>,
}

/// The variables read, in one place.
pub(crate) const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub(crate) const METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
pub(crate) const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub(crate) const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub(crate) const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub(crate) const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
pub(crate) const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
pub(crate) const TEMPORALITY: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
pub(crate) const SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
pub(crate) const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
pub(crate) const METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
pub(crate) const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub(crate) const METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
pub(crate) const TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
pub(crate) const METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
pub(crate) const COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
pub(crate) const METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
pub(crate) const TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
pub(crate) const HISTOGRAM_AGGREGATION: &str =
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION";
pub(crate) const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `true` or `false`; plain text is all taskscope sends, so either is accepted.
const INSECURE: [&str; 3] = [
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
];
/// TLS material, which taskscope cannot use: setting one is an error, not a silent
/// plain-text export.
const TLS_FILES: [&str; 9] = [
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_QUEUE: usize = 16;
const DEFAULT_ATTEMPTS: u32 = 5;

fn invalid(setting: &'static str, value: &str, expected: &str) -> OtlpError {
    OtlpError::Invalid {
        setting,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// Resolves the settings; `env` reads a variable (the process environment in production).
pub(crate) fn resolve(
    req: Requested,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, OtlpError> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());

    // A per-signal variable wins over the general one; every one that is set is checked,
    // so a bad value never passes unnoticed. One protocol, timeout and header set serve
    // both signals: the metrics ones when both are given.
    let parse_protocol = |name: &'static str, v: &str| match v.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err(invalid(
            name,
            v,
            "grpc or http/protobuf (http/json is not supported)",
        )),
        _ => Err(invalid(name, v, "grpc or http/protobuf")),
    };
    let mut env_protocol = None;
    for name in [TRACES_PROTOCOL, PROTOCOL, METRICS_PROTOCOL] {
        if let Some(v) = var(name) {
            env_protocol = Some(parse_protocol(name, &v)?);
        }
    }
    let protocol = req.protocol.or(env_protocol).unwrap_or(Protocol::Grpc);
    let boolean = |name: &'static str| -> Result<Option<bool>, OtlpError> {
        match var(name) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(invalid(name, &v, "true or false")),
            },
        }
    };
    for name in INSECURE {
        boolean(name)?;
    }
    let disabled = boolean(SDK_DISABLED)?.unwrap_or(false);
    for name in TLS_FILES {
        if let Some(v) = var(name) {
            return Err(invalid(
                name,
                &v,
                "no TLS file: taskscope does not bundle TLS; unset it and send to a collector on loopback or in the same network, which forwards over TLS",
            ));
        }
    }
    for name in [COMPRESSION, METRICS_COMPRESSION, TRACES_COMPRESSION] {
        if let Some(v) = var(name) {
            match v.trim().to_ascii_lowercase().as_str() {
                "none" => {}
                "gzip" => {
                    return Err(invalid(
                        name,
                        &v,
                        "none (taskscope sends uncompressed protobuf; gzip is not supported)",
                    ));
                }
                _ => return Err(invalid(name, &v, "none")),
            }
        }
    }

    // The metrics endpoint: the builder's base endpoint, else the signal's own variable
    // (used as it is), else the base variable (with the signal's path for HTTP).
    let (setting, raw, is_base) = match (req.endpoint.clone(), var(METRICS_ENDPOINT), var(ENDPOINT))
    {
        (Some(e), _, _) => ("with_endpoint", e, true),
        (None, Some(e), _) => (METRICS_ENDPOINT, e, false),
        (None, None, Some(e)) => (ENDPOINT, e, true),
        (None, None, None) => {
            let default = match protocol {
                Protocol::Grpc => "http://localhost:4317",
                Protocol::HttpProtobuf => "http://localhost:4318",
            };
            ("default endpoint", default.to_owned(), true)
        }
    };
    let metrics_endpoint = endpoint(setting, &raw, is_base, protocol, "/v1/metrics")?;
    // Traces: the builder's base endpoint, else the traces variable (as it is), else the
    // base the metrics endpoint came from; a metrics URL given alone is the collector's too.
    let traces_endpoint = match (&req.endpoint, var(TRACES_ENDPOINT)) {
        (None, Some(t)) => endpoint(TRACES_ENDPOINT, &t, false, protocol, "/v1/traces")?,
        _ if is_base => endpoint(setting, &raw, true, protocol, "/v1/traces")?,
        _ => {
            let m = metrics_endpoint.to_string();
            let base = m.strip_suffix("/v1/metrics").unwrap_or(&m);
            endpoint(
                setting,
                base,
                protocol == Protocol::HttpProtobuf,
                protocol,
                "/v1/traces",
            )?
        }
    };
    let trace_sampling = match req.trace_sampling {
        Some(r) if !(0.0..=1.0).contains(&r) => {
            return Err(invalid(
                "with_trace_sampling",
                &r.to_string(),
                "a ratio from 0 to 1",
            ));
        }
        Some(r) => r,
        None => sampler(var(SAMPLER), var(SAMPLER_ARG))?,
    };

    let mut headers = match var(HEADERS) {
        Some(v) => key_values(HEADERS, &v)?,
        None => Vec::new(),
    };
    for name in [TRACES_HEADERS, METRICS_HEADERS] {
        if let Some(v) = var(name) {
            let specific = key_values(name, &v)?;
            if name == METRICS_HEADERS {
                for (k, v) in specific {
                    headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&k));
                    headers.push((k, v));
                }
            }
        }
    }
    for (k, v) in req.headers.clone() {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&k));
        headers.push((k, v));
    }
    for (k, v) in &headers {
        let valid_name = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        let valid_value = v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        if !valid_name || !valid_value {
            return Err(invalid(
                HEADERS,
                &format!("{k}={v}"),
                "header names of letters, digits, '-', '_' or '.', and printable ASCII values",
            ));
        }
    }

    let mut timeout = req.timeout.map(|t| ("with_timeout", t));
    for name in [
        TRACES_TIMEOUT,
        METRIC_EXPORT_TIMEOUT,
        TIMEOUT,
        METRICS_TIMEOUT,
    ] {
        if let Some(v) = var(name) {
            let t = millis(name, &v)?;
            if req.timeout.is_none() {
                timeout = Some((name, t));
            }
        }
    }
    let (timeout_from, timeout) = timeout.unwrap_or(("default timeout", DEFAULT_TIMEOUT));
    let (interval_from, interval) = match (req.interval, var(EXPORT_INTERVAL)) {
        (Some(t), _) => ("with_interval", t),
        (None, Some(v)) => (EXPORT_INTERVAL, millis(EXPORT_INTERVAL, &v)?),
        (None, None) => ("default interval", DEFAULT_INTERVAL),
    };
    if timeout.is_zero() {
        return Err(invalid(timeout_from, "0", "a timeout above zero"));
    }
    if interval.is_zero() {
        return Err(invalid(interval_from, "0", "an interval above zero"));
    }

    let temporality = match (req.temporality, var(TEMPORALITY)) {
        (Some(t), _) => t,
        (None, Some(v)) => match v.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Temporality::Cumulative,
            "delta" | "lowmemory" => Temporality::Delta,
            _ => return Err(invalid(TEMPORALITY, &v, "cumulative, delta or lowmemory")),
        },
        (None, None) => Temporality::Cumulative,
    };

    let env_histograms = match var(HISTOGRAM_AGGREGATION) {
        None => None,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "base2_exponential_bucket_histogram" => Some(HistogramFormat::default()),
            "explicit_bucket_histogram" => Some(HistogramFormat::Explicit(
                crate::DEFAULT_EXPLICIT_BUCKETS.to_vec(),
            )),
            _ => {
                return Err(invalid(
                    HISTOGRAM_AGGREGATION,
                    &v,
                    "base2_exponential_bucket_histogram or explicit_bucket_histogram",
                ));
            }
        },
    };
    let histograms = req
        .histograms
        .clone()
        .or(env_histograms)
        .unwrap_or_default();
    if let HistogramFormat::Exponential { max_buckets } = histograms
        && !(1..=4096).contains(&max_buckets)
    {
        return Err(invalid(
            "with_exponential_buckets",
            &max_buckets.to_string(),
            "from 1 to 4096 buckets",
        ));
    }
    if let HistogramFormat::Explicit(bounds) = &histograms {
        let increasing = bounds.windows(2).all(|w| w[0] < w[1]);
        if bounds.is_empty() || !increasing || bounds.iter().any(|b| !b.is_finite()) {
            return Err(invalid(
                "with_explicit_buckets",
                &format!("{bounds:?}"),
                "finite boundaries in seconds, strictly increasing, at least one",
            ));
        }
    }

    let resource = resource(&req, &var)?;
    let queue = req.queue.unwrap_or(DEFAULT_QUEUE);
    if queue == 0 {
        return Err(invalid(
            "with_queue_capacity",
            "0",
            "a queue of at least one batch",
        ));
    }
    Ok(Settings {
        protocol,
        metrics_endpoint,
        traces_endpoint,
        trace_sampling,
        headers,
        timeout,
        interval,
        temporality,
        histograms,
        resource,
        queue,
        max_attempts: req.max_attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1),
        disabled,
    })
}

/// `OTEL_TRACES_SAMPLER` and its argument, as a ratio (0 when unset: no spans).
fn sampler(name: Option<String>, arg: Option<String>) -> Result<f64, OtlpError> {
    let Some(name) = name else { return Ok(0.0) };
    let ratio = || match &arg {
        None => Ok(1.0),
        Some(a) => a
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| invalid(SAMPLER_ARG, a, "a ratio from 0 to 1")),
    };
    match name.trim() {
        "always_on" | "parentbased_always_on" => Ok(1.0),
        "always_off" | "parentbased_always_off" => Ok(0.0),
        "traceidratio" | "parentbased_traceidratio" => ratio(),
        _ => Err(invalid(
            SAMPLER,
            &name,
            "always_on, always_off, traceidratio or their parentbased_ forms",
        )),
    }
}

fn endpoint(
    setting: &'static str,
    raw: &str,
    is_base: bool,
    protocol: Protocol,
    signal_path: &str,
) -> Result<Uri, OtlpError> {
    let raw = raw.trim();
    let uri: Uri = raw
        .parse()
        .map_err(|_| invalid(setting, raw, "a URL such as http://127.0.0.1:4317"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                setting,
                raw,
                "an http:// URL (taskscope does not bundle TLS: send to a collector on loopback or in the same network, which forwards over TLS)",
            ));
        }
        _ => return Err(invalid(setting, raw, "a URL that starts with http://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(
            setting,
            raw,
            "a URL with a host, such as http://127.0.0.1:4317",
        ));
    }
    if protocol == Protocol::HttpProtobuf && is_base {
        let base = raw.trim_end_matches('/');
        let base = base.strip_suffix("/v1/metrics").unwrap_or(base);
        let full = format!("{base}{signal_path}");
        return full
            .parse()
            .map_err(|_| invalid(setting, raw, "a URL such as http://127.0.0.1:4318"));
    }
    Ok(uri)
}

fn millis(setting: &'static str, v: &str) -> Result<Duration, OtlpError> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| invalid(setting, v, "a whole number of milliseconds"))
}

/// `k=v,k2=v2` with percent-encoded values (the W3C baggage form the OTel variables use).
fn key_values(setting: &'static str, v: &str) -> Result<Vec<(String, String)>, OtlpError> {
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, val)) = pair.split_once('=') else {
            return Err(invalid(setting, v, "comma-separated key=value pairs"));
        };
        let (k, val) = (k.trim(), val.trim());
        if k.is_empty() {
            return Err(invalid(setting, v, "comma-separated key=value pairs"));
        }
        let val = percent_decode(val)
            .ok_or_else(|| invalid(setting, v, "values with valid percent-encoding (%XX)"))?;
        out.push((k.to_owned(), val));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The resource attributes: detected ones, then `OTEL_RESOURCE_ATTRIBUTES`, then
/// `OTEL_SERVICE_NAME`, then the builder's; a later source wins.
fn resource(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, OtlpError> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".to_owned());
    let mut attrs: Vec<(String, String)> = vec![
        ("service.name".into(), format!("unknown_service:{exe}")),
        ("telemetry.sdk.name".into(), "taskscope".into()),
        ("telemetry.sdk.language".into(), "rust".into()),
        (
            "telemetry.sdk.version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
        ("process.pid".into(), std::process::id().to_string()),
        ("process.executable.name".into(), exe),
    ];
    if let Some(host) = host_name() {
        attrs.push(("host.name".into(), host));
    }
    let mut set = |k: String, v: String| {
        attrs.retain(|(existing, _)| *existing != k);
        attrs.push((k, v));
    };
    if let Some(v) = var(RESOURCE_ATTRIBUTES) {
        for (k, v) in key_values(RESOURCE_ATTRIBUTES, &v)? {
            set(k, v);
        }
    }
    if let Some(name) = var(SERVICE_NAME) {
        set("service.name".into(), name.trim().to_owned());
    }
    for (k, v) in &req.resource {
        set(k.clone(), v.clone());
    }
    if let Some(name) = &req.service_name {
        set("service.name".into(), name.clone());
    }
    if let Some(version) = &req.service_version {
        set("service.version".into(), version.clone());
    }
    Ok(attrs)
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(pairs: &[(&str, &str)]) -> Result<Settings, OtlpError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(Requested::default(), &move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_grpc_to_localhost_cumulative_every_minute() {
        let s = with_env(&[]).unwrap();
        assert_eq!(s.protocol, Protocol::Grpc);
        assert_eq!(s.metrics_endpoint.to_string(), "http://localhost:4317/");
        assert_eq!(s.temporality, Temporality::Cumulative);
        assert_eq!(s.interval, Duration::from_secs(60));
        assert_eq!(s.timeout, Duration::from_secs(10));
    }

    #[test]
    fn http_appends_the_metrics_path_to_the_base_endpoint_only() {
        let s = with_env(&[(PROTOCOL, "http/protobuf"), (ENDPOINT, "http://c:4318/")]).unwrap();
        assert_eq!(s.metrics_endpoint.to_string(), "http://c:4318/v1/metrics");
        let s = with_env(&[
            (PROTOCOL, "http/protobuf"),
            (ENDPOINT, "http://c:4318"),
            (METRICS_ENDPOINT, "http://m:9999/custom"),
        ])
        .unwrap();
        assert_eq!(s.metrics_endpoint.to_string(), "http://m:9999/custom");
    }

    #[test]
    fn variables_are_read_and_parsed() {
        let s = with_env(&[
            (HEADERS, "api-key=a%20b,x-tenant=t1"),
            (TIMEOUT, "2500"),
            (EXPORT_INTERVAL, "1000"),
            (TEMPORALITY, "Delta"),
            (
                RESOURCE_ATTRIBUTES,
                "deployment.environment=prod,service.name=from-attrs",
            ),
            (SERVICE_NAME, "checkout"),
        ])
        .unwrap();
        assert_eq!(
            s.headers,
            [
                ("api-key".into(), "a b".into()),
                ("x-tenant".into(), "t1".into())
            ]
        );
        assert_eq!(s.timeout, Duration::from_millis(2500));
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.temporality, Temporality::Delta);
        let get = |k: &str| {
            s.resource
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("service.name"),
            Some("checkout"),
            "OTEL_SERVICE_NAME wins"
        );
        assert_eq!(get("deployment.environment"), Some("prod"));
        assert_eq!(get("telemetry.sdk.name"), Some("taskscope"));
    }

    #[test]
    fn per_signal_variables_win_and_every_one_is_checked() {
        let s = with_env(&[
            (PROTOCOL, "grpc"),
            (METRICS_PROTOCOL, "http/protobuf"),
            (TIMEOUT, "2000"),
            (METRICS_TIMEOUT, "500"),
            (HEADERS, "a=1,b=2"),
            (METRICS_HEADERS, "b=3"),
            (COMPRESSION, "none"),
        ])
        .unwrap();
        assert_eq!(s.protocol, Protocol::HttpProtobuf);
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(
            s.headers,
            vec![("a".into(), "1".into()), ("b".into(), "3".into())]
        );
        for (name, value) in [
            (TRACES_PROTOCOL, "pigeon"),
            (TRACES_TIMEOUT, "-5"),
            (TRACES_HEADERS, "broken"),
            (METRIC_EXPORT_TIMEOUT, "soon"),
            (COMPRESSION, "gzip"),
            (METRICS_COMPRESSION, "zstd"),
        ] {
            let e = with_env(&[(name, value)]).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(value), "{e}");
        }
        let e = with_env(&[(TIMEOUT, "0")]).unwrap_err().to_string();
        assert!(e.contains(TIMEOUT), "{e}");
        let e = with_env(&[(EXPORT_INTERVAL, "0")]).unwrap_err().to_string();
        assert!(e.contains(EXPORT_INTERVAL), "{e}");
    }

    #[test]
    fn the_builder_wins_over_variables() {
        let req = Requested {
            endpoint: Some("http://127.0.0.1:1234".into()),
            protocol: Some(Protocol::HttpProtobuf),
            service_name: Some("builder-name".into()),
            ..Requested::default()
        };
        let s = resolve(req, &|name| match name {
            ENDPOINT => Some("http://other:4318".into()),
            PROTOCOL => Some("grpc".into()),
            SERVICE_NAME => Some("env-name".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            s.metrics_endpoint.to_string(),
            "http://127.0.0.1:1234/v1/metrics"
        );
        assert!(
            s.resource
                .contains(&("service.name".into(), "builder-name".into()))
        );
    }

    #[test]
    fn the_histogram_aggregation_variable_chooses_the_format_unless_the_builder_does() {
        let explicit = HistogramFormat::Explicit(crate::DEFAULT_EXPLICIT_BUCKETS.to_vec());
        let s = with_env(&[(HISTOGRAM_AGGREGATION, "explicit_bucket_histogram")]).unwrap();
        assert_eq!(s.histograms, explicit);
        let s = with_env(&[(HISTOGRAM_AGGREGATION, "base2_exponential_bucket_histogram")]).unwrap();
        assert_eq!(s.histograms, HistogramFormat::default());
        assert_eq!(
            with_env(&[]).unwrap().histograms,
            HistogramFormat::default()
        );
        let req = Requested {
            histograms: Some(HistogramFormat::Exponential { max_buckets: 20 }),
            ..Requested::default()
        };
        let s = resolve(req, &|name| {
            (name == HISTOGRAM_AGGREGATION).then(|| "explicit_bucket_histogram".into())
        })
        .unwrap();
        assert_eq!(
            s.histograms,
            HistogramFormat::Exponential { max_buckets: 20 }
        );
    }

    #[test]
    fn sdk_disabled_and_insecure_are_booleans() {
        assert!(with_env(&[(SDK_DISABLED, "TRUE")]).unwrap().disabled);
        assert!(!with_env(&[(SDK_DISABLED, "false")]).unwrap().disabled);
        assert!(!with_env(&[]).unwrap().disabled);
        for v in ["true", "false"] {
            assert!(with_env(&[("OTEL_EXPORTER_OTLP_METRICS_INSECURE", v)]).is_ok());
        }
        // Still checked when disabled: a wrong setting is found before it is switched on.
        assert!(with_env(&[(SDK_DISABLED, "true"), (ENDPOINT, "nope nope")]).is_err());
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        let cases = [
            (ENDPOINT, "not a url", "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (ENDPOINT, "ftp://collector:21", "starts with http://"),
            (ENDPOINT, "https://collector:4317", "TLS"),
            (
                METRICS_ENDPOINT,
                "://x",
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            ),
            (
                TRACES_ENDPOINT,
                "nope nope",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
            (PROTOCOL, "udp", "grpc or http/protobuf"),
            (PROTOCOL, "http/json", "not supported"),
            (HEADERS, "novalue", "key=value"),
            (HEADERS, "k=%zz", "percent-encoding"),
            (TIMEOUT, "10s", "milliseconds"),
            (EXPORT_INTERVAL, "-5", "milliseconds"),
            (TEMPORALITY, "sometimes", "cumulative, delta or lowmemory"),
            (SAMPLER, "sometimes", "traceidratio"),
            (RESOURCE_ATTRIBUTES, "=x", "key=value"),
        ];
        for (var, value, expected) in cases {
            let err = with_env(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
            assert!(err.contains(value), "{err}");
            assert!(err.contains(expected), "{var}={value}: {err}");
        }
    }
}
