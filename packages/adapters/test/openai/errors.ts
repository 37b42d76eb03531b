/** Assertions on typed failures. */
import { expect } from "@effect/vitest"
import type { ModelError } from "@ragkit/core"
import { Cause, Exit, Option } from "effect"

/** The `ModelError` an exit failed with; a success or a defect fails the test. */
export const modelError = <A, E>(exit: Exit.Exit<A, E>): ModelError => {
  if (Exit.isSuccess(exit)) return expect.fail(`expected a ModelError, got a success: ${JSON.stringify(exit.value)}`)
  expect(Cause.isDie(exit.cause), `a defect:\n${Cause.pretty(exit.cause)}`).toBe(false)
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) return expect.fail(`not a typed failure:\n${Cause.pretty(exit.cause)}`)
  const e = error.value as { readonly _tag?: string }
  expect(e._tag).toBe("ModelError")
  return e as unknown as ModelError
}
