"""Reads a file of OTLP JSON lines with the OpenTelemetry Python packages' generated
protobuf types and protobuf's own JSON parser (which the Collector's file format follows),
as a third-party reader of a taskscope recording.

Usage: python_file_reader.py FILE FUNCTION
Prints the number of export requests, then the last request's `function.calls` total for
points whose code.function.name ends with FUNCTION.
"""
import sys

from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

path, function = sys.argv[1], sys.argv[2]
requests = []
with open(path) as f:
    for line in f:
        if line.strip():
            requests.append(Parse(line, ExportMetricsServiceRequest()))
calls = 0
for rm in requests[-1].resource_metrics:
    for sm in rm.scope_metrics:
        for m in sm.metrics:
            if m.name != "function.calls":
                continue
            for p in m.sum.data_points:
                attrs = {a.key: a.value.string_value for a in p.attributes}
                if attrs.get("code.function.name", "").endswith(function):
                    calls += p.as_int
print(len(requests), calls)
