// Helpers of the browser tests: the API as the phone and the other actors use it, and the
// console's sign-in.
import { expect, request, type APIRequestContext, type Page } from '@playwright/test'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'

export const BASE = process.env.CONSOLE_BASE_URL || 'http://127.0.0.1:8000'
export const ARTIFACTS = process.env.CONSOLE_ARTIFACTS || 'test-artifacts'
export const PASSWORD = 'wangge-demo'

export function shot(page: Page, name: string) {
  return page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) })
}

export class Api {
  // access tokens live 15 s on the test server: reuse one for 10 s
  private tokens = new Map<string, { token: string; at: number }>()
  constructor(public ctx: APIRequestContext) {}

  static async open(): Promise<Api> {
    return new Api(await request.newContext({ baseURL: BASE }))
  }

  async token(user: string): Promise<string> {
    const resp = await this.ctx.post('/api/v1/auth/token', { form: { username: user, password: PASSWORD } })
    expect(resp.status(), await resp.text()).toBe(200)
    const t = (await resp.json()).access_token as string
    this.tokens.set(user, { token: t, at: Date.now() })
    return t
  }

  private async auth(user: string) {
    const kept = this.tokens.get(user)
    const token = kept && Date.now() - kept.at < 10_000 ? kept.token : await this.token(user)
    return { Authorization: `Bearer ${token}` }
  }

  async get(user: string, url: string): Promise<any> {
    const resp = await this.ctx.get(url, { headers: await this.auth(user) })
    expect(resp.status(), await resp.text()).toBe(200)
    return resp.json()
  }

  async post(user: string, url: string, data: unknown, status = 200): Promise<any> {
    const resp = await this.ctx.post(url, { headers: await this.auth(user), data })
    expect(resp.status(), await resp.text()).toBe(status)
    return resp.json()
  }

  /** A point inside a grid (the mean of its ring: the synthetic grids are convex). */
  async pointIn(gridCode: string): Promise<{ lon: number; lat: number }> {
    const f = await this.get('dispatch1', `/api/v1/grids/${gridCode}`)
    const ring: number[][] = f.geometry.coordinates[0][0]
    const pts = ring.slice(0, -1)
    return {
      lon: pts.reduce((s, p) => s + p[0], 0) / pts.length,
      lat: pts.reduce((s, p) => s + p[1], 0) / pts.length,
    }
  }

  async report(user: string, gridCode: string, category = 'exposed_garbage', description = '小区东门路边垃圾堆放，约两立方米'): Promise<any> {
    const p = await this.pointIn(gridCode)
    return this.post(
      user,
      '/api/v1/events',
      { client_id: randomUUID(), category, description, location: { lon: p.lon, lat: p.lat, coord: 'wgs84', accuracy_m: 5 } },
      201,
    )
  }

  async photo(user: string, eventId: number, stage: 'report' | 'resolve', file: string): Promise<any> {
    const resp = await this.ctx.post(`/api/v1/events/${eventId}/photos?stage=${stage}`, {
      headers: await this.auth(user),
      multipart: { file: { name: path.basename(file), mimeType: 'image/jpeg', buffer: readFileSync(file) } },
    })
    expect([200, 201], await resp.text()).toContain(resp.status())
    return resp.json()
  }

  act(user: string, eventId: number, action: string, body: Record<string, unknown> = {}): Promise<any> {
    return this.post(user, `/api/v1/events/${eventId}/${action}`, body)
  }

  event(eventId: number): Promise<any> {
    return this.get('dispatch1', `/api/v1/events/${eventId}`)
  }

  async waitFor(eventId: number, pred: (e: any) => boolean, ms = 10_000): Promise<any> {
    const end = Date.now() + ms
    for (;;) {
      const e = await this.event(eventId)
      if (pred(e)) return e
      if (Date.now() > end) throw new Error(`event ${eventId} never reached the state: ${JSON.stringify(e)}`)
      await new Promise((r) => setTimeout(r, 150))
    }
  }
}

export async function signIn(page: Page, user: string, path = '/console/'): Promise<void> {
  await page.goto(path)
  await page.getByTestId('username').fill(user)
  await page.getByTestId('password').fill(PASSWORD)
  await page.getByTestId('signin').click()
  await expect(page.getByTestId('signin')).toHaveCount(0)
}

export const photos = {
  report: process.env.CONSOLE_PHOTO_REPORT || '',
  fix1: process.env.CONSOLE_PHOTO_FIX1 || '',
  fix2: process.env.CONSOLE_PHOTO_FIX2 || '',
}
