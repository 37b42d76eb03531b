/** Every area's isolation cases; an area's engineer adds its file here (one import, one spread). */
import type { Cases } from "./cases.js"
import { cases as system } from "./system.js"

export const cases: Cases = {
  ...system
}
