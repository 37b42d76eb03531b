#!/usr/bin/env node
// Runs the TypeScript entry point through tsx (the published build will point at dist/).
import { register } from "tsx/esm/api"
register()
await import("../src/bin.ts")
