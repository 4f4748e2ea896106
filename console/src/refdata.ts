// Reference data read once per session: the map, the communities, the categories, and the
// console's run-time configuration (tiles, zone).
import { shallowRef } from 'vue'
import { request } from './api/http'
import type { Category, Community, ConsoleConfig, GridCollection, GridFeature } from './api/types'
import { setZone } from './lib/time'

export const grids = shallowRef<GridCollection | null>(null)
export const gridByCode = shallowRef<Map<string, GridFeature>>(new Map())
export const communities = shallowRef<Community[]>([])
export const categories = shallowRef<Category[]>([])
export const categoryByCode = shallowRef<Map<string, Category>>(new Map())
export const config = shallowRef<ConsoleConfig>({
  tile_url: null,
  tile_coord: 'wgs84',
  tile_attribution: '',
  timezone: 'Asia/Shanghai',
})

let loading: Promise<void> | null = null

export function loadReference(): Promise<void> {
  if (!loading) {
    loading = (async () => {
      const [g, c, cats, cfg] = await Promise.all([
        request<GridCollection>('/grids'),
        request<Community[]>('/communities'),
        request<Category[]>('/categories'),
        fetch('/console/config.json').then((r) => (r.ok ? r.json() : null)).catch(() => null),
      ])
      grids.value = g
      gridByCode.value = new Map(g.features.map((f) => [f.properties.code, f]))
      communities.value = c
      categories.value = cats
      categoryByCode.value = new Map(cats.map((x) => [x.code, x]))
      if (cfg) {
        config.value = cfg
        setZone(cfg.timezone)
      }
    })().catch((e) => {
      loading = null
      throw e
    })
  }
  return loading
}

export function categoryName(code: string): string {
  return categoryByCode.value.get(code)?.name ?? code
}

export function gridName(code: string): string {
  return gridByCode.value.get(code)?.properties.name ?? code
}

export function resetReference() {
  loading = null
}
