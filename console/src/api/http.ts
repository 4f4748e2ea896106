// The one way to the API: the access token in memory only, the refresh token in
// sessionStorage (tab-scoped; survives a reload so deep links work; never localStorage).
// A 401 refreshes once (single flight, rotation) and retries; a failed refresh ends the session.

export const API = '/api/v1'
const REFRESH_KEY = 'wangge.refresh'

export class ApiError extends Error {
  constructor(
    public status: number,
    public detail: any,
    public headers: Headers,
  ) {
    super(messageOf(detail))
  }
}

/** Every error body is ``{"detail": [{"loc", "msg", "type", ...}]}``: its messages, joined. */
export function messageOf(detail: any): string {
  if (Array.isArray(detail)) return detail.map((d) => (typeof d?.msg === 'string' ? d.msg : JSON.stringify(d))).join('; ')
  if (typeof detail === 'string') return detail
  return detail?.msg ?? JSON.stringify(detail)
}

export class SessionExpired extends Error {}

interface Tokens {
  access_token: string
  refresh_token: string
  expires_in: number
}

let accessToken: string | null = null
let refreshing: Promise<boolean> | null = null
let onExpired: (() => void) | null = null

export function setOnExpired(fn: () => void) {
  onExpired = fn
}

export function accessTokenNow(): string | null {
  return accessToken
}

export function hasRefreshToken(): boolean {
  return !!sessionStorage.getItem(REFRESH_KEY)
}

function keep(t: Tokens) {
  accessToken = t.access_token
  sessionStorage.setItem(REFRESH_KEY, t.refresh_token)
}

export function forget() {
  accessToken = null
  sessionStorage.removeItem(REFRESH_KEY)
}

async function parse(resp: Response): Promise<any> {
  const type = resp.headers.get('content-type') || ''
  if (resp.status === 204) return null
  if (type.includes('json')) return resp.json()
  return resp.text()
}

export async function signIn(username: string, password: string): Promise<void> {
  const body = new URLSearchParams({ username, password })
  const resp = await fetch(`${API}/auth/token`, { method: 'POST', body })
  const data = await parse(resp)
  if (!resp.ok) throw new ApiError(resp.status, data?.detail ?? data, resp.headers)
  keep(data as Tokens)
}

/** Exchange the refresh token for a new pair (single flight). False: the session is over. */
export function refresh(): Promise<boolean> {
  if (!refreshing) {
    refreshing = (async () => {
      const token = sessionStorage.getItem(REFRESH_KEY)
      if (!token) return false
      try {
        const resp = await fetch(`${API}/auth/refresh`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: token }),
        })
        if (!resp.ok) {
          if (resp.status === 401 || resp.status === 422) forget()
          return false
        }
        keep((await resp.json()) as Tokens)
        return true
      } catch {
        return false
      }
    })().finally(() => {
      refreshing = null
    })
  }
  return refreshing
}

export async function signOut(): Promise<void> {
  const token = sessionStorage.getItem(REFRESH_KEY)
  try {
    if (token) {
      await request('/auth/logout', { method: 'POST', json: { refresh_token: token } })
    }
  } finally {
    forget()
  }
}

export interface RequestOptions {
  method?: string
  json?: unknown
  body?: BodyInit
  query?: Record<string, string | number | boolean | (string | number)[] | null | undefined>
  raw?: boolean
  signal?: AbortSignal
}

export function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v == null || v === '') continue
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)))
    else q.append(k, String(v))
  }
  const s = q.toString()
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path
}

/** Fetch ``/api/v1{path}`` with the token; JSON in and out (``raw``: the Response). */
export async function request<T = any>(path: string, opts: RequestOptions = {}): Promise<T> {
  const url = withQuery(path.startsWith('/api/') ? path : `${API}${path}`, opts.query)
  for (let attempt = 0; ; attempt++) {
    if (!accessToken && attempt === 0 && hasRefreshToken()) await refresh()
    const headers: Record<string, string> = {}
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`
    let body = opts.body
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.json)
    }
    const resp = await fetch(url, { method: opts.method ?? 'GET', headers, body, signal: opts.signal })
    if (resp.status === 401 && attempt === 0 && !path.startsWith('/auth/token')) {
      if (await refresh()) continue
      onExpired?.()
      throw new SessionExpired('session expired')
    }
    if (opts.raw && resp.ok) return resp as unknown as T
    const data = await parse(resp)
    if (!resp.ok) throw new ApiError(resp.status, data?.detail ?? data, resp.headers)
    return data as T
  }
}

/** Fetch a protected file (a photo, an export) and hand back an object URL. */
export async function blobUrl(path: string, query?: RequestOptions['query']): Promise<{ url: string; name: string | null; type: string }> {
  const resp = await request<Response>(path, { raw: true, query })
  const blob = await resp.blob()
  const cd = resp.headers.get('content-disposition') || ''
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(cd)
  const name = m ? decodeURIComponent(m[1] || m[2]) : null
  return { url: URL.createObjectURL(blob), name, type: blob.type }
}
