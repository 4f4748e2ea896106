// Map helpers: the GCJ-02 offset (for tile providers such as Amap that draw in it) and
// community outlines made from the grids' edges (an edge two grids of a community share is
// inside it; the others are its outline).

const A = 6378245.0
const EE = 0.00669342162296594323

function outOfChina(lon: number, lat: number): boolean {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

function tLat(x: number, y: number): number {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0
  return r
}

function tLon(x: number, y: number): number {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0
  return r
}

/** WGS-84 → GCJ-02 (the published "Mars coordinates" transform). */
export function wgs84ToGcj02(lon: number, lat: number): [number, number] {
  if (outOfChina(lon, lat)) return [lon, lat]
  let dLat = tLat(lon - 105.0, lat - 35.0)
  let dLon = tLon(lon - 105.0, lat - 35.0)
  const radLat = (lat / 180.0) * Math.PI
  let magic = Math.sin(radLat)
  magic = 1 - EE * magic * magic
  const sqrtMagic = Math.sqrt(magic)
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI)
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI)
  return [lon + dLon, lat + dLat]
}

export type Projector = (lon: number, lat: number) => [number, number]
export const identity: Projector = (lon, lat) => [lon, lat]

/** The projector for the configured tiles: GCJ-02 tiles need every WGS-84 point shifted. */
export function projectorFor(tileCoord: string | null | undefined, hasTiles: boolean): Projector {
  return hasTiles && tileCoord === 'gcj02' ? wgs84ToGcj02 : identity
}

type Ring = number[][]

function rings(geometry: { type: string; coordinates: any }): Ring[] {
  if (geometry.type === 'Polygon') return geometry.coordinates as Ring[]
  if (geometry.type === 'MultiPolygon') return (geometry.coordinates as Ring[][]).flat()
  return []
}

const key = (p: number[]) => `${p[0].toFixed(7)},${p[1].toFixed(7)}`

/** The outline of a group of polygons that tile without gaps: the edges used once. */
export function outline(geometries: { type: string; coordinates: any }[]): [number, number][][] {
  const count = new Map<string, { a: number[]; b: number[]; n: number }>()
  for (const g of geometries) {
    for (const ring of rings(g)) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const a = ring[i]
        const b = ring[i + 1]
        const ka = key(a)
        const kb = key(b)
        if (ka === kb) continue
        const k = ka < kb ? `${ka}|${kb}` : `${kb}|${ka}`
        const hit = count.get(k)
        if (hit) hit.n++
        else count.set(k, { a, b, n: 1 })
      }
    }
  }
  const out: [number, number][][] = []
  for (const { a, b, n } of count.values()) {
    if (n === 1) out.push([[a[0], a[1]], [b[0], b[1]]])
  }
  return out
}
