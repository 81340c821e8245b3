import { context, propagation, trace } from '@opentelemetry/api';
import { type Logger, redactUrl } from '../logging/logger.js';
import { tracePostgresStatements } from './postgres-statements.js';
import { setTracingOn } from './spans.js';

/**
 * How long shutting tracing down waits for the last spans to be exported. An unreachable collector makes the
 * exporter retry, and one that never answers makes it wait, for up to OTEL_EXPORTER_OTLP_TIMEOUT (10 s)
 * per export: without a bound that would use up the whole shutdown grace period (SHUTDOWN_GRACE_MS, 10 s by
 * default), and `serve` would exit 1 as if requests had been cut.
 */
export const TRACING_SHUTDOWN_WAIT_MS = 5000;

/** The running SDK, as startTracing returns it. */
export interface TracingSdk {
  /**
   * Exports the spans still buffered, then stops recording; waits at most TRACING_SHUTDOWN_WAIT_MS for the
   * collector, then goes on without those spans (the exporter's own timeout ends its requests later).
   */
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
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), TRACING_SHUTDOWN_WAIT_MS).unref();
        });
        try {
          if ((await Promise.race([provider.shutdown(), late])) === 'late')
            logger.warn(
              { waitedMs: TRACING_SHUTDOWN_WAIT_MS },
              'tracing: the collector did not take the last spans in time; shutting down without them',
            );
        } catch (error) {
          // Spans that could not be delivered are lost; shutting down goes on.
          logger.warn({ err: error }, 'tracing: could not export the last spans');
        } finally {
          clearTimeout(timer);
        }
        trace.disable();
        context.disable();
        propagation.disable();
      })();
      return stopped;
    },
  };
}
