// Times are shown in the service's zone (Asia/Shanghai by default), whatever the browser's.
let zone = 'Asia/Shanghai'
export function setZone(z: string) {
  zone = z
}

const cache = new Map<string, Intl.DateTimeFormat>()
function fmt(opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = zone + JSON.stringify(opts)
  let f = cache.get(key)
  if (!f) {
    f = new Intl.DateTimeFormat('zh-CN', { timeZone: zone, hour12: false, ...opts })
    cache.set(key, f)
  }
  return f
}

function parts(value: Date, opts: Intl.DateTimeFormatOptions): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of fmt(opts).formatToParts(value)) out[p.type] = p.value
  return out
}

/** 2026-11-29 12:53:31 in the service's zone. */
export function formatTime(value: string | number | Date | null | undefined): string {
  if (value == null) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return '—'
  const p = parts(d, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  })
  const hour = p.hour === '24' ? '00' : p.hour
  return `${p.year}-${p.month}-${p.day} ${hour}:${p.minute}:${p.second}`
}

/** The calendar day (YYYY-MM-DD) of an instant in the service's zone. */
export function dayOf(value: number | Date = Date.now()): string {
  const p = parts(new Date(value), { year: 'numeric', month: '2-digit', day: '2-digit' })
  return `${p.year}-${p.month}-${p.day}`
}

/** Add days to a YYYY-MM-DD day. */
export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + n)
  return d.toISOString().slice(0, 10)
}

/** The service zone's offset on a day (+08:00): at noon (no DST in China; correct elsewhere
 * but at changes). */
function offsetOn(day: string): string {
  const p = parts(new Date(`${day}T12:00:00Z`), { timeZoneName: 'longOffset' })
  return (p.timeZoneName || 'GMT+08:00').replace('GMT', '') || '+00:00'
}

/** The instant a service-zone day starts, as ISO with its offset (for ?since= on /events). */
export function dayStartIso(day: string): string {
  return `${day}T00:00:00${offsetOn(day)}`
}

/** A wall time in the service's zone (an <input type="datetime-local"> value, YYYY-MM-DDTHH:MM)
 * as ISO with its offset; '' when it is not one. */
export function localIso(local: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?$/.exec(local)
  return m ? `${m[1]}T${m[2]}${m[3] ?? ':00'}${offsetOn(m[1])}` : ''
}
