import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * tenantplane's tracer. Until an SDK is registered (see startTracing) the API hands out its no-op tracer;
 * the helpers below do not even ask it then, so tracing that is off costs a boolean test per call site.
 * Taken again whenever tracing starts or stops: the API's tracer keeps the provider it first found.
 */
export let tracer = trace.getTracer('tenantplane');

/** Attribute names that every tenant-scoped span carries. */
export const TENANT_ID = 'tenant.id';
export const TENANT_TIER = 'tenant.tier';

/**
 * Whether spans are recorded. The OpenTelemetry API keeps its tracer provider in a process-wide global, so
 * this mirrors it: set by startTracing when it registers the SDK, cleared when that is shut down.
 */
let recording = false;

export function tracingOn(): boolean {
  return recording;
}

export function setTracingOn(on: boolean): void {
  recording = on;
  tracer = trace.getTracer('tenantplane');
}

/** The tenant a piece of work acts for, kept in the trace context so that every span under it says so. */
const TENANT_KEY = createContextKey('tenantplane.tenant');

export interface TenantAttributes {
  id: string;
  tier?: string | undefined;
}

/** `tenant.id` and `tenant.tier` of the tenant the context acts for, if any. */
export function tenantAttributes(ctx: Context): Attributes {
  const tenant = ctx.getValue(TENANT_KEY) as TenantAttributes | undefined;
  if (tenant === undefined) return {};
  return tenant.tier === undefined
    ? { [TENANT_ID]: tenant.id }
    : { [TENANT_ID]: tenant.id, [TENANT_TIER]: tenant.tier };
}

/** Runs `fn` in a context acting for `tenant`: spans started inside it carry the tenant's attributes. */
export function withTenant<T>(tenant: TenantAttributes, fn: () => T): T {
  if (!recording) return fn();
  return context.with(context.active().setValue(TENANT_KEY, tenant), fn);
}

/**
 * Runs `fn` inside a new active span, child of the active one, with the active tenant's attributes; the span
 * ends when the promise settles and records a failure. Without tracing it is just `fn()`.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span | undefined) => Promise<T>,
  options: SpanOptions = {},
): Promise<T> {
  if (!recording) return fn(undefined);
  const parent = context.active();
  const span = tracer.startSpan(
    name,
    { ...options, attributes: { ...tenantAttributes(parent), ...attributes } },
    parent,
  );
  return context
    .with(trace.setSpan(parent, span), () => fn(span))
    .then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        endWithError(span, error);
        throw error;
      },
    );
}

/** Marks the span failed with the error (its message, never its details) and ends it. */
export function endWithError(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
  span.end();
}
