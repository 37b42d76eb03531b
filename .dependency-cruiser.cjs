/**
 * The workspace's dependency rules, checked by `pnpm run depcheck` (part of `pnpm test`).
 * Type-only imports count: a cycle through `import type` is still a cycle.
 */

/** The npm packages `@ragkit/core` may import: the Effect runtime and its tokenizers' libraries. */
const coreNpm = ["effect", "@effect/platform", "tiktoken", "@node-rs/jieba"]
/** ...and, from `@ragkit/core/testing` only, the test runner its conformance suites run on. */
const coreTestingNpm = ["vitest", "@effect/vitest"]

const npmPath = (names) => `(^|/)node_modules/(${names.join("|")})/`

/** The plugins: packages that implement core's ports. */
const plugins = "^packages/(store-pg|store-lancedb|store-s3|parsers|adapters)/"
/** Core's public entry points (`@ragkit/core`, `@ragkit/core/doubles`, `@ragkit/core/testing`). */
const coreEntries = "^packages/core/src/(index|doubles|testing/index)\\.ts$"

/** A rule that fails the check: imports `from` -> `to` are not allowed. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: "error", from, to })

module.exports = {
  forbidden: [
    forbid(
      "no-circular",
      "No import cycles in any package's source.",
      { path: "^packages/[^/]+/src/" },
      { circular: true }
    ),
    forbid(
      "core-npm-allow-list",
      "@ragkit/core imports no store, parser library, SDK or HTTP server: only " + coreNpm.join(", ") +
        " and node builtins.",
      { path: "^packages/core/src/", pathNot: "^packages/core/src/testing/" },
      { dependencyTypesNot: ["core", "local"], pathNot: npmPath(coreNpm) }
    ),
    forbid(
      "core-no-network-servers",
      "@ragkit/core opens no sockets and serves no HTTP: node's network modules belong to the server and adapters.",
      { path: "^packages/core/src/" },
      { dependencyTypes: ["core"], path: "^(node:)?(http|https|http2|net|tls|dgram)$" }
    ),
    forbid(
      "core-testing-npm-allow-list",
      "@ragkit/core/testing may add the test runner, nothing else.",
      { path: "^packages/core/src/testing/" },
      { dependencyTypesNot: ["core", "local"], pathNot: npmPath([...coreNpm, ...coreTestingNpm]) }
    ),
    forbid(
      "plugins-use-core-entry-points",
      "Store, parser and model plugins use @ragkit/core, @ragkit/core/doubles and @ragkit/core/testing, " +
        "never core's files by path.",
      { path: plugins },
      { path: "^packages/core/", pathNot: coreEntries }
    ),
    forbid(
      "example-plugin-uses-published-entry-points",
      "examples/plugin-parser is written as an outside author would: @ragkit/core and @ragkit/core/testing only.",
      { path: "^examples/plugin-parser/" },
      { path: "^packages/", pathNot: "^packages/core/(src/(index|testing/index)\\.ts|dist/(index|testing/index)\\.(d\\.ts|js))$" }
    ),
    forbid(
      "core-imports-no-plugin",
      "@ragkit/core never imports another workspace package (a store, the parsers, the adapters, the server).",
      { path: "^packages/core/" },
      { path: "^packages/(?!core/)" }
    ),
    forbid(
      "store-s3-on-core-ports-only",
      "@ragkit/store-s3 implements core's BlobStore port: of our packages it imports @ragkit/core only (its tests may use @ragkit/fixtures).",
      { path: "^packages/store-s3/src/" },
      { path: "^packages/(?!(core|store-s3)/)" }
    ),
    forbid(
      "plugin-src-not-core-testing",
      "A plugin's source does not import @ragkit/core/testing (its tests may).",
      { path: `${plugins}src/` },
      { path: "^packages/core/src/testing/" }
    ),
    forbid(
      "src-not-tests",
      "Source never imports a test folder, its own or another package's.",
      { path: "^packages/[^/]+/src/" },
      { path: "^packages/[^/]+/test/" }
    ),
    forbid(
      "no-relative-imports-across-packages",
      "Another package is imported by its name (through its exports), never by a relative path.",
      { path: "^(packages|examples)/([^/]+)/" },
      { dependencyTypes: ["local"], path: "^(packages|examples)/", pathNot: "^$1/$2/" }
    ),
    forbid(
      "client-imports-api-definitions-only",
      "@ragkit/client derives from the server's API definitions (@ragkit/server/api), never the server's entry or files.",
      { path: "^packages/client/src/" },
      { path: "^packages/server/", pathNot: "^packages/server/src/ApiDefinition\\.ts$" }
    ),
    forbid(
      "bench-imports-packages",
      "Benchmarks import packages by name, never a package's files (its test/ folder least of all).",
      { path: "^bench/" },
      { path: "^(packages|examples)/", dependencyTypes: ["local"] }
    ),
    forbid(
      "domain-imports-no-ports-or-services",
      "Core's domain model is below its ports and services.",
      { path: "^packages/core/src/domain/" },
      { path: "^packages/core/src/(ports|services)/" }
    ),
    forbid(
      "ports-import-no-services",
      "Core's ports are below its services.",
      { path: "^packages/core/src/ports/" },
      { path: "^packages/core/src/services/" }
    ),
    forbid(
      "resolvable",
      "Every import resolves (e.g. no deep import past a package's exports).",
      { path: "^(packages|bench|examples)/" },
      { couldNotResolve: true }
    )
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    // The sources are checked; dist/ is their build (\`pnpm build\`).
    exclude: { path: "^packages/[^/]+/dist/" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      // "development" first: the workspace resolves our packages to their sources.
      conditionNames: ["development", "import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"]
    },
    skipAnalysisNotInRules: true
  }
}
