/**
 * RAGFlow stamps every record with `create_time`/`update_time` (epoch milliseconds) and
 * `create_date`/`update_date` (the same instant as text, RFC 1123 in UTC as its JSON shows it).
 */
import { Clock, Effect, Schema } from "effect"

export const formatDate = (ms: number): string => new Date(ms).toUTCString()

export const Stamps = {
  create_time: Schema.Number,
  create_date: Schema.String,
  update_time: Schema.Number,
  update_date: Schema.String
}

export interface Stamped {
  readonly create_time: number
  readonly create_date: string
  readonly update_time: number
  readonly update_date: string
}

/** Stamps for a new record, from the Effect clock (so TestClock works). */
export const newStamps: Effect.Effect<Stamped> = Effect.map(Clock.currentTimeMillis, (ms) => ({
  create_time: ms,
  create_date: formatDate(ms),
  update_time: ms,
  update_date: formatDate(ms)
}))

/** Update stamps only. */
export const touched: Effect.Effect<Pick<Stamped, "update_time" | "update_date">> = Effect.map(
  Clock.currentTimeMillis,
  (ms) => ({ update_time: ms, update_date: formatDate(ms) })
)
