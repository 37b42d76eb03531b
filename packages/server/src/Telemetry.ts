/**
 * Traces, when the deployment asks for them (`telemetry.tracesUrl`, set by
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): Effect's spans (each
 * HTTP request, each document ingested, the services' `Effect.fn` spans) are exported over OTLP
 * HTTP (JSON) in batches, under the service name `telemetry.serviceName` (`OTEL_SERVICE_NAME`,
 * default `ragkit`). The batch in hand is sent when the process stops. Without a URL nothing is
 * set up and spans cost next to nothing.
 */
import { Effect, Layer, Option } from "effect"
import type { ServerSettings } from "./Config.js"

/** The OpenTelemetry SDK and exporter are imported only when traces are exported. */
export const layer = (settings: Pick<ServerSettings, "telemetry">, version: string): Layer.Layer<never> =>
  Option.match(settings.telemetry.tracesUrl, {
    onNone: () => Layer.empty,
    onSome: (url) =>
      Layer.unwrapEffect(
        Effect.promise(async () => {
          const [{ NodeSdk }, { OTLPTraceExporter }, { BatchSpanProcessor }] = await Promise.all([
            import("@effect/opentelemetry"),
            import("@opentelemetry/exporter-trace-otlp-http"),
            import("@opentelemetry/sdk-trace-base")
          ])
          return Layer.discard(
            NodeSdk.layer(() => ({
              resource: { serviceName: settings.telemetry.serviceName, serviceVersion: version },
              spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1_000 }),
              shutdownTimeout: "5 seconds"
            }))
          )
        })
      )
  })
