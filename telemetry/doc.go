// Package telemetry builds invsync's tracing from the standard
// OpenTelemetry environment variables, and the log handler that stamps each
// line with the trace it belongs to.
//
// Nothing here is global: [NewTracing] returns a provider that the caller
// passes to each component (ingest, pipeline, mirror), and a component given
// none uses a no-op provider. Propagation between processes is W3C
// tracecontext ([Propagator]) on HTTP headers and Kafka record headers.
package telemetry
