"""A service instrumented with the OpenTelemetry Python SDK, as a foreign OTLP sender.

Usage: python_sender.py grpc|http ENDPOINT CALLS SERVICE
The exporter reads the standard variables too (OTEL_EXPORTER_OTLP_COMPRESSION,
OTEL_EXPORTER_OTLP_CERTIFICATE, ...). Records CALLS calls of one function under
taskscope's metric names, every tenth an error without an error.type, then flushes once.
"""
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

protocol, endpoint, calls, service = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint)
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    exporter = OTLPMetricExporter(endpoint=endpoint.rstrip("/") + "/v1/metrics")

reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
provider = MeterProvider(
    metric_readers=[reader], resource=Resource.create({"service.name": service})
)
meter = provider.get_meter("checkout")
counter = meter.create_counter("function.calls", unit="{call}")
duration = meter.create_histogram("function.calls.duration", unit="s")
for i in range(calls):
    outcome = "error" if i % 10 == 0 else "ok"
    attributes = {"function": "charge_card", "module": "checkout", "outcome": outcome}
    counter.add(1, attributes)
    duration.record(0.010 + (i % 50) / 1000.0, attributes)
ok = provider.force_flush(timeout_millis=20_000)
provider.shutdown()
print("SENT" if ok else "FLUSH FAILED", calls)
sys.exit(0 if ok else 1)
