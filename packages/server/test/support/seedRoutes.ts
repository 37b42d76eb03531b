/**
 * The routes of the seed API (and of the REST API) as the tests see them, read from its definition with
 * `HttpApi.reflect`: so a test built on them covers a new route without being told about it.
 */
import { HttpApi } from "@effect/platform"
import { SchemaAST as AST } from "effect"
import { RestApi } from "../../src/api/rest/RestApi.js"
import { SeedApi } from "../../src/api/SeedApi.js"

export interface SeedRoute {
  /** `group.endpoint`, e.g. `kbs.update`. */
  readonly key: string
  readonly group: string
  readonly name: string
  readonly method: string
  /** The path as declared, with `:param` segments. */
  readonly path: string
  /** The request fields that name a record (`id`, `*_id`, `*_ids`, `token`), wherever they are sent. */
  readonly idFields: ReadonlyArray<string>
  /** The keys of its middleware tags (`Authentication.key`, ...). */
  readonly middleware: ReadonlyArray<string>
}

/** A field that names a record: the ids a caller could take from another tenant. */
export const isIdField = (name: string): boolean => /^(id|token)$|_ids?$/.test(name)

/** The top-level field names of a request schema (the wire's and the decoded side's). */
export const fieldNames = (ast: AST.AST): ReadonlyArray<string> => {
  const names = new Set<string>()
  const seen = new Set<AST.AST>()
  const visit = (node: AST.AST): void => {
    if (seen.has(node)) return
    seen.add(node)
    switch (node._tag) {
      case "TypeLiteral":
        for (const ps of node.propertySignatures) if (typeof ps.name === "string") names.add(ps.name)
        return
      case "Transformation":
        visit(node.from)
        visit(node.to)
        return
      case "Refinement":
        visit(node.from)
        return
      case "Union":
        node.types.forEach(visit)
        return
      case "Suspend":
        visit(node.f())
        return
      case "Declaration":
        node.typeParameters.forEach(visit)
        return
    }
  }
  visit(ast)
  return [...names]
}

const pathParams = (path: string): ReadonlyArray<string> =>
  path.split("/").flatMap((segment) => (segment.startsWith(":") ? [segment.slice(1).replace(/\?$/, "")] : []))

/** Every endpoint of the seed API, with the id fields its path, query and body take. */
export const seedRoutes = (): ReadonlyArray<SeedRoute> => routesOf(SeedApi)

/** Every endpoint of RAGFlow's REST API, with the id fields its path, query and body take. */
export const restRoutes = (): ReadonlyArray<SeedRoute> => routesOf(RestApi)

/** Every endpoint of an API, with the id fields its path, query and body take. */
export const routesOf = (api: HttpApi.HttpApi.Any): ReadonlyArray<SeedRoute> => {
  const routes: Array<SeedRoute> = []
  HttpApi.reflect(api as never, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, middleware, payloads }) => {
      const names = new Set<string>(pathParams(endpoint.path))
      const schemas = [endpoint.pathSchema, endpoint.urlParamsSchema, endpoint.headersSchema].flatMap((s) => (s._tag === "Some" ? [s.value.ast] : []))
      for (const ast of [...schemas, ...[...payloads.values()].map((p) => p.ast)]) for (const name of fieldNames(ast)) names.add(name)
      routes.push({
        key: `${group.identifier}.${endpoint.name}`,
        group: group.identifier,
        name: endpoint.name,
        method: endpoint.method,
        path: endpoint.path,
        idFields: [...names].filter(isIdField).sort(),
        middleware: [...middleware].map((tag) => tag.key)
      })
    }
  })
  return routes
}
