"""A file of OTLP JSON lines written by the OpenTelemetry Python SDK, as the OpenTelemetry
Collector's file exporter writes them: the SDK's own OTLP encoder (the one its OTLP
exporters send) and protobuf's JSON mapping, one ExportMetricsServiceRequest a line.

Usage: python_file_writer.py FILE EXPORTS CALLS_PER_EXPORT SERVICE
Records CALLS_PER_EXPORT calls of one function between exports, every tenth an error.
"""
import sys
import time

from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

path, exports, per_export, service = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
reader = InMemoryMetricReader()
provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": service}))
meter = provider.get_meter("checkout")
counter = meter.create_counter("function.calls", unit="{call}")
duration = meter.create_histogram("function.calls.duration", unit="s")
with open(path, "w") as out:
    for e in range(exports):
        for i in range(per_export):
            outcome = "error" if i % 10 == 0 else "ok"
            attributes = {"code.function.name": "checkout::charge_card", "taskscope.outcome": outcome}
            counter.add(1, attributes)
            duration.record(0.010 + (i % 50) / 1000.0, attributes)
        request = encode_metrics(reader.get_metrics_data())
        # OTLP's JSON mapping: enums as numbers, one request a line.
        line = MessageToJson(request, indent=None, use_integers_for_enums=True)
        out.write(line.replace("\n", "") + "\n")
        time.sleep(0.05)
provider.shutdown()
print("WROTE", exports)
