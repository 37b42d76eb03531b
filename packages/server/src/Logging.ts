/**
 * The server's logs: text (Effect's logfmt-like lines) or, with `log.format` `json`
 * (`RAGKIT_LOG_FORMAT=json`, `--log-format json`), one JSON object per line:
 *
 *   {"time":"2026-01-01T00:00:00.000Z","level":"INFO","message":"...","request_id":"...","fiber":"#12"}
 *
 * Every log annotation (`Effect.annotateLogs("request_id", id)`) is a field of its own, spans are
 * `span.<name>` fields with their duration in ms, a failure's cause is `cause`. A `Redacted` value,
 * wherever it is (message, annotation, cause), is printed as `<redacted>`. Logs go to stderr, so
 * that a command's output (`ragkit token create` prints the key) stays alone on stdout.
 */
import { Cause, FiberId, HashMap, Inspectable, Layer, List, Logger, LogLevel, Redacted } from "effect"
import type { LogFormat, LogLevel as Level, ServerSettings } from "./Config.js"

/** A value as JSON can hold it, with every `Redacted` replaced. */
const plain = (value: unknown, seen = new WeakSet<object>()): unknown => {
  if (Redacted.isRedacted(value)) return "<redacted>"
  if (value === null || typeof value !== "object") {
    return typeof value === "bigint" ? value.toString() : typeof value === "function" || typeof value === "symbol" ? String(value) : value
  }
  if (seen.has(value)) return "[Circular]"
  seen.add(value)
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, seen)]))) }
  }
  if (Array.isArray(value)) return value.map((v) => plain(v, seen))
  const json = Inspectable.toJSON(value)
  if (json !== value) return plain(json, seen)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, seen)]))
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : JSON.stringify(plain(part)))).join(" ")
}

/** One JSON line per log, annotations as fields. */
export const jsonLogger = Logger.make<unknown, string>(({ annotations, cause, date, fiberId, logLevel, message, spans }) => {
  const entry: Record<string, unknown> = {
    time: date.toISOString(),
    level: logLevel.label,
    message: messageText(message)
  }
  for (const [key, value] of HashMap.toEntries(annotations)) {
    entry[key in entry ? `annotation.${key}` : key] = plain(value)
  }
  const now = date.getTime()
  for (const span of List.toArray(spans)) entry[`span.${span.label}`] = now - span.startTime
  if (!Cause.isEmpty(cause)) entry.cause = Cause.pretty(cause, { renderErrorCause: true })
  entry.fiber = FiberId.threadName(fiberId)
  return JSON.stringify(entry)
})

const levels: Record<Level, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

const toStderr = <A>(logger: Logger.Logger<unknown, A>) =>
  Logger.map(logger, (line) => {
    process.stderr.write(`${String(line)}\n`)
  })

/** The logger of a format, writing to stderr. */
export const logger = (format: LogFormat) => toStderr(format === "json" ? jsonLogger : Logger.logfmtLogger)

/** Replaces the default logger with the configured one, at the configured level. */
export const layer = (settings: Pick<ServerSettings, "log">): Layer.Layer<never> =>
  Layer.merge(Logger.replace(Logger.defaultLogger, logger(settings.log.format)), Logger.minimumLogLevel(levels[settings.log.level]))
