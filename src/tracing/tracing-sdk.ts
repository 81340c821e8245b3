import { context, propagation, trace } from '@opentelemetry/api';
import { type Logger, redactUrl } from '../logging/logger.js';
import { tracePostgresStatements } from './postgres-statements.js';
import { setTracingOn } from './spans.js';

/** The running SDK, as startTracing returns it. */
export interface TracingSdk {
  /** Exports the spans still buffered, then stops recording. */
  shutdown(): Promise<void>;
}

/**
 * Whether the environment asks for traces: an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, or the traces-only
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts the OpenTelemetry SDK when `env` asks for traces (see tracingRequested), else resolves to
 * undefined: then the SDK's packages are not even loaded, and nothing is added to the request path. Spans
 * go in batches over OTLP/HTTP; the exporter, the batch processor and the resource read the standard
 * OTEL_* variables of the process themselves (endpoint, headers, OTEL_BSP_*, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER). The service name defaults to `tenantplane`.
 *
 * Registers the provider globally, with the AsyncLocalStorage context manager and the W3C trace-context
 * propagator, which is what makes incoming `traceparent` headers and job hand-offs continue a trace.
 */
export async function startTracing(env: NodeJS.ProcessEnv, logger: Logger): Promise<TracingSdk | undefined> {
  if (!tracingRequested(env)) return undefined;
  const [{ OTLPTraceExporter }, { detectResources, envDetector, resourceFromAttributes }, sdk] =
    await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  const resource = resourceFromAttributes({ 'service.name': 'tenantplane' }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new sdk.NodeTracerProvider({
    resource,
    spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  const stopStatements = tracePostgresStatements();
  setTracingOn(true);
  logger.info(
    { endpoint: redactUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || '') },
    'tracing: exporting spans over OTLP',
  );
  let stopped: Promise<void> | undefined;
  return {
    shutdown() {
      stopped ??= (async () => {
        setTracingOn(false);
        stopStatements();
        try {
          await provider.shutdown();
        } catch (error) {
          // Spans that could not be delivered are lost; shutting down goes on.
          logger.warn({ err: error }, 'tracing: could not export the last spans');
        }
        trace.disable();
        context.disable();
        propagation.disable();
      })();
      return stopped;
    },
  };
}
