//! The exporter's settings: the builder's, else the standard `OTEL_*` variables, else the
//! defaults; checked once at start-up, with errors that name the setting and the value.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Uri;

use super::{Compression, HistogramFormat, OtlpError, Protocol, Temporality};

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
    pub(crate) compression: Compression,
    /// The TLS material of each signal's connection (used for `https://` endpoints).
    pub(crate) metrics_tls: TlsFiles,
    pub(crate) traces_tls: TlsFiles,
    /// The application's tracer, when spans go through its own pipeline.
    #[cfg(feature = "otel-sdk")]
    pub(crate) tracer: Option<crate::export::otel::spans::UserTracer>,
}

/// The TLS files of one signal's connection, checked to be readable PEM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// The CA certificates to trust instead of the platform's roots.
    pub(crate) ca: Option<PathBuf>,
    /// The client certificate and key, for mutual TLS.
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
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
    pub(crate) compression: Option<Compression>,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) client_certificate: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
    pub(crate) insecure: Option<bool>,
    #[cfg(feature = "otel-sdk")]
    pub(crate) tracer: Option<crate::export::otel::spans::UserTracer>,
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
/// A TLS setting's variables: the general one, the metrics one, the traces one.
struct PerSignal {
    general: &'static str,
    metrics: &'static str,
    traces: &'static str,
}

/// Whether a gRPC endpoint given without a scheme is plain text (`true`) or TLS.
const INSECURE: PerSignal = PerSignal {
    general: "OTEL_EXPORTER_OTLP_INSECURE",
    metrics: "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    traces: "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
};
/// The CA certificates to trust.
const CERTIFICATE: PerSignal = PerSignal {
    general: "OTEL_EXPORTER_OTLP_CERTIFICATE",
    metrics: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    traces: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
};
/// The client certificate, for mutual TLS.
const CLIENT_CERTIFICATE: PerSignal = PerSignal {
    general: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    metrics: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
    traces: "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
};
/// The client certificate's private key.
const CLIENT_KEY: PerSignal = PerSignal {
    general: "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    metrics: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
    traces: "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
};

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
    let var: &dyn Fn(&str) -> Option<String> = &var;
    let protocol = resolve_protocol(&req, var)?;
    let insecure = |metrics: bool| -> Result<bool, OtlpError> {
        let env = per_signal(&INSECURE, metrics, &|name| boolean(var, name))?;
        Ok(req.insecure.or(env).unwrap_or(false))
    };
    let (metrics_endpoint, traces_endpoint) =
        resolve_endpoints(&req, var, protocol, insecure(true)?, insecure(false)?)?;
    let trace_sampling = resolve_trace_sampling(&req, var)?;
    let (timeout, interval) = resolve_timing(&req, var)?;
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
        headers: resolve_headers(&req, var)?,
        timeout,
        interval,
        temporality: resolve_temporality(&req, var)?,
        histograms: resolve_histograms(&req, var)?,
        resource: resource(&req, var)?,
        queue,
        max_attempts: req.max_attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1),
        disabled: boolean(var, SDK_DISABLED)?.unwrap_or(false),
        compression: compression(req.compression, var)?,
        metrics_tls: tls_files(&req, true, var)?,
        traces_tls: tls_files(&req, false, var)?,
        #[cfg(feature = "otel-sdk")]
        tracer: req.tracer,
    })
}

/// A boolean variable: `true` or `false`, any case.
fn boolean(
    var: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, OtlpError> {
    match var(name) {
        None => Ok(None),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(invalid(name, &v, "true or false")),
        },
    }
}

/// The protocol: the builder's, else the per-signal variable over the general one; every
/// one that is set is checked, so a bad value never passes unnoticed. One protocol serves
/// both signals: the metrics one when both are given.
fn resolve_protocol(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Protocol, OtlpError> {
    let parse = |name: &'static str, v: &str| match v.trim() {
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
            env_protocol = Some(parse(name, &v)?);
        }
    }
    Ok(req.protocol.or(env_protocol).unwrap_or(Protocol::Grpc))
}

/// The metrics and traces endpoints.
///
/// Metrics: the builder's base endpoint, else the signal's own variable (used as it is),
/// else the base variable (with the signal's path for HTTP). Traces: the builder's base
/// endpoint, else the traces variable (as it is), else the base the metrics endpoint came
/// from; a metrics URL given alone is the collector's too.
fn resolve_endpoints(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
    protocol: Protocol,
    metrics_insecure: bool,
    traces_insecure: bool,
) -> Result<(Uri, Uri), OtlpError> {
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
    let metrics = endpoint(
        setting,
        &raw,
        is_base,
        protocol,
        "/v1/metrics",
        metrics_insecure,
    )?;
    let traces = match (&req.endpoint, var(TRACES_ENDPOINT)) {
        (None, Some(t)) => endpoint(
            TRACES_ENDPOINT,
            &t,
            false,
            protocol,
            "/v1/traces",
            traces_insecure,
        )?,
        _ if is_base => endpoint(setting, &raw, true, protocol, "/v1/traces", traces_insecure)?,
        _ => {
            let m = metrics.to_string();
            let base = m.strip_suffix("/v1/metrics").unwrap_or(&m);
            endpoint(
                setting,
                base,
                protocol == Protocol::HttpProtobuf,
                protocol,
                "/v1/traces",
                traces_insecure,
            )?
        }
    };
    Ok((metrics, traces))
}

/// The share of calls sent as spans: the builder's, else `OTEL_TRACES_SAMPLER` and its
/// argument.
fn resolve_trace_sampling(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<f64, OtlpError> {
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
    #[cfg(feature = "otel-sdk")]
    if req.tracer.is_some() && trace_sampling == 0.0 {
        return Err(invalid(
            "with_tracer_provider",
            "a provider, with trace sampling 0",
            "a share of calls to offer it: with_trace_sampling(r) with r above 0 (or OTEL_TRACES_SAMPLER)",
        ));
    }
    Ok(trace_sampling)
}

/// The headers of every request: the general variable, overridden by the metrics one (the
/// traces one is checked too), overridden by the builder's; names and values checked.
fn resolve_headers(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, OtlpError> {
    let mut headers = match var(HEADERS) {
        Some(v) => key_values(HEADERS, &v)?,
        None => Vec::new(),
    };
    let mut set = |k: String, v: String| {
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&k));
        headers.push((k, v));
    };
    for name in [TRACES_HEADERS, METRICS_HEADERS] {
        if let Some(v) = var(name) {
            let specific = key_values(name, &v)?;
            if name == METRICS_HEADERS {
                specific.into_iter().for_each(|(k, v)| set(k, v));
            }
        }
    }
    req.headers.iter().cloned().for_each(|(k, v)| set(k, v));
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
    Ok(headers)
}

/// The timeout of one request and the interval between exports, both above zero.
fn resolve_timing(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(Duration, Duration), OtlpError> {
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
    Ok((timeout, interval))
}

/// Cumulative or delta: the builder's, else `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
fn resolve_temporality(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Temporality, OtlpError> {
    Ok(match (req.temporality, var(TEMPORALITY)) {
        (Some(t), _) => t,
        (None, Some(v)) => match v.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Temporality::Cumulative,
            "delta" | "lowmemory" => Temporality::Delta,
            _ => return Err(invalid(TEMPORALITY, &v, "cumulative, delta or lowmemory")),
        },
        (None, None) => Temporality::Cumulative,
    })
}

/// Exponential or explicit histograms: the builder's, else the default aggregation
/// variable; checked.
fn resolve_histograms(
    req: &Requested,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<HistogramFormat, OtlpError> {
    let env_histograms = match var(HISTOGRAM_AGGREGATION) {
        None => None,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "base2_exponential_bucket_histogram" => Some(HistogramFormat::default()),
            "explicit_bucket_histogram" => Some(HistogramFormat::Explicit(
                crate::export::DEFAULT_EXPLICIT_BUCKETS.to_vec(),
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
    Ok(histograms)
}

/// A per-signal setting of one signal: its own variable, else the general one. Both are
/// checked.
fn per_signal<T>(
    names: &PerSignal,
    metrics: bool,
    read: &dyn Fn(&'static str) -> Result<Option<T>, OtlpError>,
) -> Result<Option<T>, OtlpError> {
    let general = read(names.general)?;
    let metrics_value = read(names.metrics)?;
    let traces_value = read(names.traces)?;
    Ok(if metrics { metrics_value } else { traces_value }.or(general))
}

/// `gzip` or `none`, from the builder, else the metrics or general variable (the traces
/// variable is checked too: one compression serves both signals).
fn compression(
    given: Option<Compression>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Compression, OtlpError> {
    let read = |name: &'static str| -> Result<Option<Compression>, OtlpError> {
        match var(name) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "none" => Ok(Some(Compression::None)),
                "gzip" => Ok(Some(Compression::Gzip)),
                _ => Err(invalid(name, &v, "gzip or none")),
            },
        }
    };
    read(TRACES_COMPRESSION)?;
    let env = read(METRICS_COMPRESSION)?.or(read(COMPRESSION)?);
    Ok(given.or(env).unwrap_or(Compression::None))
}

/// One signal's TLS files: the builder's, else the signal's variable, else the general one;
/// each must be a readable PEM file (of certificates, or holding a private key), and a
/// client certificate needs its key.
fn tls_files(
    req: &Requested,
    metrics: bool,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<TlsFiles, OtlpError> {
    let pick = |given: &Option<PathBuf>,
                names: &PerSignal,
                builder: &'static str|
     -> Result<Option<(&'static str, PathBuf)>, OtlpError> {
        if let Some(p) = given {
            return Ok(Some((builder, p.clone())));
        }
        let read = |name: &'static str| Ok(var(name).map(|v| (name, PathBuf::from(v.trim()))));
        per_signal(names, metrics, &read)
    };
    let ca = pick(&req.certificate, &CERTIFICATE, "with_certificate")?;
    let cert = pick(
        &req.client_certificate,
        &CLIENT_CERTIFICATE,
        "with_client_certificate",
    )?;
    let key = pick(&req.client_key, &CLIENT_KEY, "with_client_certificate")?;
    #[cfg(not(feature = "tls"))]
    if let Some((setting, path)) = ca.as_ref().or(cert.as_ref()).or(key.as_ref()) {
        return Err(invalid(
            setting,
            &path.display().to_string(),
            "no TLS file: this build has no TLS; enable taskscope's cargo feature `tls`",
        ));
    }
    let files = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some((setting, path)), None) | (None, Some((setting, path))) => {
            return Err(invalid(
                setting,
                &path.display().to_string(),
                "a client certificate and its key, both (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)",
            ));
        }
    };
    #[cfg(feature = "tls")]
    {
        let check = |e: crate::tls::TlsFileError, setting: &'static str, path: &PathBuf| {
            invalid(
                setting,
                &path.display().to_string(),
                &format!("a PEM file it can use, but it {}", e.reason()),
            )
        };
        if let Some((setting, path)) = &ca {
            crate::tls::certificates(setting, path).map_err(|e| check(e, setting, path))?;
        }
        if let Some(((cs, cp), (ks, kp))) = &files {
            crate::tls::certificates(cs, cp).map_err(|e| check(e, cs, cp))?;
            crate::tls::private_key(ks, kp).map_err(|e| check(e, ks, kp))?;
        }
    }
    Ok(TlsFiles {
        ca: ca.map(|(_, p)| p),
        identity: files.map(|((_, c), (_, k))| (c, k)),
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

/// An endpoint URL. A gRPC endpoint without a scheme (`collector:4317`) is TLS unless
/// `insecure` (`OTEL_EXPORTER_OTLP_INSECURE=true`) says plain text.
fn endpoint(
    setting: &'static str,
    raw: &str,
    is_base: bool,
    protocol: Protocol,
    signal_path: &str,
    insecure: bool,
) -> Result<Uri, OtlpError> {
    let raw = raw.trim();
    let schemeless = !raw.contains("://");
    let with_scheme;
    let raw = if schemeless && protocol == Protocol::Grpc {
        with_scheme = format!("{}://{raw}", if insecure { "http" } else { "https" });
        &with_scheme
    } else {
        raw
    };
    let uri: Uri = raw
        .parse()
        .map_err(|_| invalid(setting, raw, "a URL such as http://127.0.0.1:4317"))?;
    match uri.scheme_str() {
        Some("http") => {}
        #[cfg(feature = "tls")]
        Some("https") => {}
        #[cfg(not(feature = "tls"))]
        Some("https") => {
            return Err(invalid(
                setting,
                raw,
                "an http:// URL: this build has no TLS; enable taskscope's cargo feature `tls` for https:// (or, for a gRPC endpoint without a scheme, set OTEL_EXPORTER_OTLP_INSECURE=true)",
            ));
        }
        _ => {
            return Err(invalid(
                setting,
                raw,
                "a URL that starts with http:// or https://",
            ));
        }
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
        (
            crate::words::names::attr::SERVICE_INSTANCE.into(),
            crate::export::resource::service_instance_id().into(),
        ),
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
            (COMPRESSION, "brotli"),
            (METRICS_COMPRESSION, "zstd"),
            (TRACES_COMPRESSION, "lz4"),
        ] {
            let e = with_env(&[(name, value)]).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(value), "{e}");
        }
        assert_eq!(
            with_env(&[(COMPRESSION, "gzip")]).unwrap().compression,
            Compression::Gzip
        );
        assert_eq!(
            with_env(&[(COMPRESSION, "gzip"), (METRICS_COMPRESSION, "none")])
                .unwrap()
                .compression,
            Compression::None,
            "the metrics variable wins"
        );
        assert_eq!(with_env(&[]).unwrap().compression, Compression::None);
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
        let explicit = HistogramFormat::Explicit(crate::export::DEFAULT_EXPLICIT_BUCKETS.to_vec());
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

    #[test]
    fn a_grpc_endpoint_without_a_scheme_is_tls_unless_insecure() {
        let secure = with_env(&[(ENDPOINT, "collector:4317")]).unwrap();
        assert_eq!(secure.metrics_endpoint.scheme_str(), Some("https"));
        let plain = with_env(&[
            (ENDPOINT, "collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ])
        .unwrap();
        assert_eq!(plain.metrics_endpoint.to_string(), "http://collector:4317/");
        // Per signal: the traces variable decides for traces only.
        let mixed = with_env(&[
            (ENDPOINT, "collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "true"),
        ])
        .unwrap();
        assert_eq!(mixed.metrics_endpoint.scheme_str(), Some("https"));
        assert_eq!(mixed.traces_endpoint.scheme_str(), Some("http"));
        // A URL says it itself.
        let url = with_env(&[
            (ENDPOINT, "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "false"),
        ])
        .unwrap();
        assert_eq!(url.metrics_endpoint.scheme_str(), Some("http"));
        let e = with_env(&[("OTEL_EXPORTER_OTLP_INSECURE", "yes")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("OTEL_EXPORTER_OTLP_INSECURE") && e.contains("true or false"));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_files_are_checked_and_named() {
        let dir = std::env::temp_dir().join(format!("taskscope-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (ca, client_key, garbage) = (dir.join("ca.pem"), dir.join("key.pem"), dir.join("x"));
        std::fs::write(&ca, cert.pem()).unwrap();
        std::fs::write(&client_key, key.serialize_pem()).unwrap();
        std::fs::write(&garbage, "not pem").unwrap();
        let ok = with_env(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.to_str().unwrap()),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                ca.to_str().unwrap(),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                client_key.to_str().unwrap(),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                garbage.to_str().unwrap(),
            ),
        ]);
        let e = ok.unwrap_err().to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE") && e.contains("PEM"),
            "every signal's file is checked: {e}"
        );
        let ok = with_env(&[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.to_str().unwrap()),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                ca.to_str().unwrap(),
            ),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                client_key.to_str().unwrap(),
            ),
        ])
        .unwrap();
        assert_eq!(ok.metrics_tls.ca.as_deref(), Some(ca.as_path()));
        assert_eq!(ok.traces_tls, ok.metrics_tls);
        let missing = with_env(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem")])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("OTEL_EXPORTER_OTLP_CERTIFICATE")
                && missing.contains("/no/such/ca.pem"),
            "{missing}"
        );
        let alone = with_env(&[(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            ca.to_str().unwrap(),
        )])
        .unwrap_err()
        .to_string();
        assert!(alone.contains("its key"), "{alone}");
        let not_a_key = with_env(&[
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                ca.to_str().unwrap(),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", garbage.to_str().unwrap()),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            not_a_key.contains("OTEL_EXPORTER_OTLP_CLIENT_KEY")
                && not_a_key.contains("private key"),
            "{not_a_key}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
