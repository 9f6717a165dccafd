// A service instrumented with the OpenTelemetry JavaScript SDK, as a foreign OTLP sender:
// @opentelemetry/exporter-metrics-otlp-http sends OTLP/HTTP JSON.
//
// Usage: node js_sender.mjs URL CALLS SERVICE
// Records CALLS calls of one function under taskscope's metric names, every fifth an error
// of kind OutOfStock, then flushes once.
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

const [url, calls, service] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const exporter = new OTLPMetricExporter({ url });
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
const provider = new MeterProvider({
  readers: [reader],
  resource: resourceFromAttributes({ 'service.name': service }),
});
const meter = provider.getMeter('cart');
const counter = meter.createCounter('function.calls', { unit: '{call}' });
const duration = meter.createHistogram('function.calls.duration', { unit: 's' });
for (let i = 0; i < calls; i++) {
  const outcome = i % 5 === 0 ? 'error' : 'ok';
  const attributes = { function: 'add_item', module: 'cart', outcome };
  if (outcome === 'error') attributes['error.type'] = 'OutOfStock';
  counter.add(1, attributes);
  duration.record(0.002 + (i % 20) / 1000, attributes);
}
await provider.forceFlush();
await provider.shutdown();
console.log('SENT', calls);
