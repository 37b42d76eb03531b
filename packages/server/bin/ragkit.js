#!/usr/bin/env node
// The `ragkit` command of the published package: the built entry point (`pnpm build`). In the
// workspace, `pnpm ragkit` runs the sources through tsx instead.
await import("../dist/bin.js")
