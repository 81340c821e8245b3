import { trace } from '@opentelemetry/api';
import { tracingOn } from './spans.js';

/** `trace_id` and `span_id` of the active span, for log lines, so that a line leads to its trace. */
export function traceLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  if (!tracingOn()) return fields;
  const span = trace.getActiveSpan();
  if (span === undefined) return fields;
  const { traceId, spanId } = span.spanContext();
  return { ...fields, trace_id: traceId, span_id: spanId };
}
