/**
 * Which hosts a tenant-added model provider may not reach: loopback, private, link-local and the
 * other addresses that are not public unicast, in IPv4 and IPv6, and `localhost` names. Pure
 * parsing (core opens no sockets); plugins that connect check resolved addresses with it.
 */

/** What a host is, for the rule on tenant-added providers. */
export type HostKind =
  /** An address that is not public (or a `localhost` name): refused unless the deployment allows it. */
  | "private"
  /** A public unicast address. */
  | "public"
  /** A DNS name: its resolved addresses decide, when connecting. */
  | "name"

/** `a.b.c.d`, four decimal bytes (the form URLs and resolvers give). */
const parseIPv4 = (s: string): ReadonlyArray<number> | undefined => {
  const parts = s.split(".")
  if (parts.length !== 4) return undefined
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN))
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined
}

/** An IPv6 address (`::` shorthand, a trailing dotted IPv4, a `%zone`) as its 16 bytes. */
const parseIPv6 = (raw: string): ReadonlyArray<number> | undefined => {
  const s = raw.replace(/%.*$/, "")
  if (!s.includes(":")) return undefined
  let words: Array<number> = []
  const halves = s.split("::")
  if (halves.length > 2) return undefined
  const group = (text: string): Array<number> | undefined => {
    if (text === "") return []
    const out: Array<number> = []
    const pieces = text.split(":")
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16))
      } else {
        return undefined
      }
    }
    return out
  }
  const head = group(halves[0]!)
  const tail = halves.length === 2 ? group(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
  } else {
    if (head.length !== 8) return undefined
    words = head
  }
  return words.flatMap((w) => [w >> 8, w & 0xff])
}

const inV4 = (b: ReadonlyArray<number>, prefix: ReadonlyArray<number>, bits: number): boolean => {
  for (let i = 0; i < 4 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((b[i]! & mask) !== (prefix[i]! & mask)) return false
  }
  return true
}

/** IPv4 ranges that are not public unicast. */
const privateV4: ReadonlyArray<readonly [ReadonlyArray<number>, number]> = [
  [[0, 0, 0, 0], 8], // "this network" (0.0.0.0 reaches the local host)
  [[10, 0, 0, 0], 8], // private
  [[100, 64, 0, 0], 10], // carrier-grade NAT
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local (cloud metadata services live here)
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments
  [[192, 168, 0, 0], 16], // private
  [[198, 18, 0, 0], 15], // benchmarking
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4] // reserved, broadcast
]

const isPrivateV4 = (b: ReadonlyArray<number>): boolean => privateV4.some(([prefix, bits]) => inV4(b, prefix, bits))

const isPrivateV6 = (b: ReadonlyArray<number>): boolean => {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0)
  if (zeros(0, 15) && (b[15] === 0 || b[15] === 1)) return true // :: and ::1
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): the IPv4 address decides.
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return isPrivateV4(b.slice(12))
  if (zeros(0, 12)) return isPrivateV4(b.slice(12))
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return isPrivateV4(b.slice(12))
  // 6to4 (2002:a.b.c.d::/48) carries an IPv4 address too.
  if (b[0] === 0x20 && b[1] === 0x02) return isPrivateV4(b.slice(2, 6))
  if ((b[0]! & 0xfe) === 0xfc) return true // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return true // fe80::/10 link-local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return true // fec0::/10 site-local (deprecated)
  if (b[0] === 0xff) return true // multicast
  return false
}

/**
 * The kind of a host: a URL's hostname (`127.0.0.1`, `[::1]`, `example.com`) or a resolved
 * address. `localhost` and names under `.localhost` are private without resolving them.
 */
export const hostKind = (host: string): HostKind => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  const v4 = parseIPv4(bare)
  if (v4 !== undefined) return isPrivateV4(v4) ? "private" : "public"
  const v6 = parseIPv6(bare)
  if (v6 !== undefined) return isPrivateV6(v6) ? "private" : "public"
  const name = bare.toLowerCase().replace(/\.$/, "")
  return name === "localhost" || name.endsWith(".localhost") ? "private" : "name"
}
