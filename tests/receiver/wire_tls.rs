//! TLS both ways, with certificates made by the test (rcgen): taskscope's exporter to the
//! receiver over TLS with a custom CA (gRPC and HTTP), with mutual TLS, and refused (never
//! sent in plain text) when the certificate does not verify, the reason counted and
//! reported once; a third-party TLS client to the receiver (the Python SDK with the
//! standard certificate variables, server-verified and mutual); and the Prometheus endpoint
//! over TLS.
//!
//! The recorder and the export counters are the process's: the scenarios run one after the
//! other in one test, and the failing exporter runs in a child process whose stderr is read.
#![cfg(all(
    feature = "receiver",
    feature = "otlp",
    feature = "tls",
    feature = "prometheus"
))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::senders;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use taskscope::Protocol;
use taskscope::receive::Receiver;

/// A CA, a server certificate for localhost it signed, a client certificate it signed, and
/// a second CA that signed nothing here; as PEM files in a directory of their own.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = Self::ca("taskscope test CA");
        let other = Self::ca("another CA");
        let server_key = rcgen::KeyPair::generate().unwrap();
        let mut server = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        server
            .subject_alt_names
            .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        let server = server.signed_by(&server_key, &ca.0, &ca.1).unwrap();
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client = rcgen::CertificateParams::new(vec!["taskscope-exporter".into()])
            .unwrap()
            .signed_by(&client_key, &ca.0, &ca.1)
            .unwrap();
        for (name, pem) in [
            ("ca.pem", ca.0.pem()),
            ("other-ca.pem", other.0.pem()),
            ("server.pem", server.pem()),
            ("server-key.pem", server_key.serialize_pem()),
            ("client.pem", client.pem()),
            ("client-key.pem", client_key.serialize_pem()),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
        Pki { dir }
    }

    fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        (params.self_signed(&key).unwrap(), key)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn str(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn tls_receiver(pki: &Pki, mutual: bool) -> Receiver {
    let mut builder = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .with_tls(pki.path("server.pem"), pki.path("server-key.pem"));
    if mutual {
        builder = builder.with_tls_client_ca(pki.path("ca.pem"));
    }
    builder.start().expect("the TLS receiver starts")
}

fn calls_at(receiver: &Receiver, service: &str, function: &str) -> u64 {
    receiver
        .frame()
        .series
        .iter()
        .find(|s| &*s.service == service && &*s.function == function)
        .map_or(0, |s| s.total_calls())
}

fn wait_for_calls(receiver: &Receiver, service: &str, function: &str, calls: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while calls_at(receiver, service, function) != calls {
        assert!(
            Instant::now() < deadline,
            "{service}/{function}: {} calls of {calls}; {:?}",
            calls_at(receiver, service, function),
            receiver.stats()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[taskscope::measure]
fn over_tls(n: u32) -> u32 {
    n + 1
}

const CHILD: &str = "TASKSCOPE_TLS_CHILD";

/// Runs this binary's `child_process` with `args` (the exporter's endpoint and protocol).
fn child(args: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &child_test(), "--nocapture", "--test-threads=1"])
        .env(CHILD, args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the test binary runs")
}

/// Not a test of its own: an exporter that trusts only the CA given, exporting three
/// times to an endpoint, then printing its counters.
#[test]
fn child_process() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = args.split(' ').collect();
    let (endpoint, protocol, ca) = (parts[0], parts[1], parts[2]);
    over_tls(1);
    let exporter = taskscope::otlp()
        .with_endpoint(endpoint)
        .with_protocol(if protocol == "grpc" {
            Protocol::Grpc
        } else {
            Protocol::HttpProtobuf
        })
        .with_certificate(ca)
        .with_max_attempts(2)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    for _ in 0..3 {
        let _ = exporter.flush();
    }
    let stats = exporter.flush().unwrap();
    println!(
        "STATS exports={} failed={} dropped={}",
        stats.exports, stats.failed_attempts, stats.dropped_batches
    );
    println!(
        "LAST {}",
        taskscope::last_export_error().unwrap_or_default()
    );
    std::mem::forget(exporter);
    std::process::exit(0);
}

#[test]
fn tls_both_ways() {
    if crate::support::alone(module_path!(), "tls_both_ways") {
        return;
    }
    let pki = Pki::new();
    exporter_to_the_receiver_over_tls(&pki);
    mutual_tls(&pki);
    a_certificate_that_does_not_verify_is_refused_and_reported_once(&pki);
    third_party_clients_over_tls(&pki);
    the_prometheus_endpoint_over_tls(&pki);
}

/// taskscope's exporter, trusting the test's CA, over gRPC and HTTP.
fn exporter_to_the_receiver_over_tls(pki: &Pki) {
    let receiver = tls_receiver(pki, false);
    for n in 0..9 {
        over_tls(n);
    }
    for (protocol, addr, service) in [
        (Protocol::Grpc, receiver.grpc_addr().unwrap(), "tls-grpc"),
        (
            Protocol::HttpProtobuf,
            receiver.http_addr().unwrap(),
            "tls-http",
        ),
    ] {
        let exporter = taskscope::otlp()
            .with_endpoint(format!("https://localhost:{}", addr.port()))
            .with_protocol(protocol)
            .with_certificate(pki.path("ca.pem"))
            .with_service_name(service)
            .with_interval(Duration::from_secs(3600))
            .try_start()
            .unwrap();
        let stats = exporter.flush().unwrap();
        assert_eq!(
            stats.failed_attempts,
            0,
            "{stats:?}: {:?}",
            taskscope::last_export_error()
        );
        wait_for_calls(&receiver, service, "over_tls", 9);
    }
    assert_eq!(receiver.stats().failed_handshakes, 0);
}

/// A receiver that wants client certificates: refused without one (the handshake fails,
/// counted on both sides), served with one.
fn mutual_tls(pki: &Pki) {
    let receiver = tls_receiver(pki, true);
    let endpoint = format!("https://localhost:{}", receiver.grpc_addr().unwrap().port());
    let out = child(&format!("{endpoint} grpc {}", pki.str("ca.pem")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("STATS exports=0"), "{stdout}");
    assert!(
        receiver.stats().failed_handshakes >= 1,
        "{:?}",
        receiver.stats()
    );
    let exporter = taskscope::otlp()
        .with_endpoint(&endpoint)
        .with_certificate(pki.path("ca.pem"))
        .with_client_certificate(pki.path("client.pem"), pki.path("client-key.pem"))
        .with_service_name("mtls")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    exporter.flush().unwrap();
    wait_for_calls(&receiver, "mtls", "over_tls", calls_of_over_tls());
    assert_eq!(receiver.stats().accepted, 1);
}

fn calls_of_over_tls() -> u64 {
    taskscope::snapshot()
        .function("over_tls")
        .map_or(0, |f| f.calls())
}

/// An exporter trusting another CA: every attempt fails on the certificate, the batches are
/// dropped and counted, the reason is printed once (not once per attempt), and nothing
/// reaches the receiver in plain text.
fn a_certificate_that_does_not_verify_is_refused_and_reported_once(pki: &Pki) {
    let receiver = tls_receiver(pki, false);
    for (protocol, addr) in [
        ("grpc", receiver.grpc_addr().unwrap()),
        ("http", receiver.http_addr().unwrap()),
    ] {
        let endpoint = format!("https://localhost:{}", addr.port());
        let out = child(&format!(
            "{endpoint} {protocol} {}",
            pki.str("other-ca.pem")
        ));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains("STATS exports=0 failed=8 dropped=4"),
            "{stdout}\n{stderr}"
        );
        let last = stdout.lines().find(|l| l.starts_with("LAST ")).unwrap();
        assert!(
            last.contains("certificate") && last.to_lowercase().contains("issuer"),
            "the reason: {last}"
        );
        assert_eq!(
            stderr.matches("OTLP export failed").count(),
            1,
            "reported once, with the reason: {stderr}"
        );
        assert!(stderr.contains("certificate"), "{stderr}");
    }
    let stats = receiver.stats();
    assert_eq!(
        stats.accepted, 0,
        "nothing arrived in plain text: {stats:?}"
    );
    assert!(stats.failed_handshakes >= 2, "{stats:?}");
}

/// Clients nobody on the team wrote: the Python SDK with the standard certificate
/// variables, over gRPC trusting the CA, and over HTTP with a client certificate to a
/// receiver that wants one. (rotel 0.0.1-alpha10's exporter refuses to start with any of its
/// TLS options: "Either both or neither of cert and key must be provided", even with both.)
fn third_party_clients_over_tls(pki: &Pki) {
    let receiver = tls_receiver(pki, false);
    senders::run_python(
        "grpc",
        &format!("https://localhost:{}", receiver.grpc_addr().unwrap().port()),
        60,
        "py-tls",
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.str("ca.pem"))],
    );
    wait_for_calls(&receiver, "py-tls", "charge_card", 60);

    let receiver = tls_receiver(pki, true);
    senders::run_python(
        "http",
        &format!("https://localhost:{}", receiver.http_addr().unwrap().port()),
        70,
        "py-mtls",
        &[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.str("ca.pem")),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &pki.str("client.pem"),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &pki.str("client-key.pem")),
        ],
    );
    wait_for_calls(&receiver, "py-mtls", "charge_card", 70);
}

/// The Prometheus endpoint over TLS: a client trusting the CA scrapes it; plain text to the
/// TLS port is a failed handshake, counted.
fn the_prometheus_endpoint_over_tls(pki: &Pki) {
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .with_tls(pki.path("server.pem"), pki.path("server-key.pem"))
        .start();
    let port = endpoint.local_addr().port();
    let body = https_get(pki, port, "/metrics");
    assert!(body.contains("function_calls_total"), "{body}");
    assert!(
        body.contains("code_function_name=\"receiver::wire_tls::over_tls\""),
        "{body}"
    );
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut plain, b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("function_calls"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while endpoint.failed_handshakes() == 0 {
        assert!(
            Instant::now() < deadline,
            "the plain request is a failed handshake"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTPS GET with rustls, trusting the test's CA: the body.
fn https_get(pki: &Pki, port: u16, path: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    std::io::Write::write_all(
        &mut tls,
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut tls, &mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

/// The path of this file's `child_process` test, as the test binary names it.
fn child_test() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    format!("{module}::child_process")
}
