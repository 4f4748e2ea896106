// Two dispatchers on one event: the other's change appears live in the open drawer; a racing
// action with a stale version is a 409 that shows what changed and retries on the fresh
// state. The stream survives a dropped connection and resumes with Last-Event-ID.
import { expect, test } from '@playwright/test'
import { Api, shot, signIn } from './kit'

const GRID = '130203001003002'

test('another dispatcher\'s change shows live; a stale action is a 409 with a retry', async ({ browser }) => {
  const api = await Api.open()
  const ev = await api.report('g18m1', GRID, 'small_ads', '电线杆上小广告')
  await api.waitFor(ev.id, (e) => e.status === 'dispatched')

  const a = await browser.newContext()
  const b = await browser.newContext()
  const pa = await a.newPage()
  const pb = await b.newPage()
  await signIn(pa, 'dispatch1', `/console/events/${ev.id}`)
  await signIn(pb, 'dispatch2', `/console/events/${ev.id}`)
  await expect(pa.getByTestId('live-state')).toHaveAttribute('data-state', 'live')
  await expect(pb.getByTestId('event-detail')).toBeVisible()
  const v0 = Number(await pa.getByTestId('event-detail').getAttribute('data-version'))

  // B suspends; A sees it live
  await pb.getByTestId('action-suspend').click()
  await pb.getByTestId('action-note').fill('等待业主配合')
  await pb.getByTestId('action-submit').click()
  await expect(pb.getByTestId('event-detail')).toHaveAttribute('data-status', 'suspended')
  await expect(pa.getByTestId('event-detail')).toHaveAttribute('data-status', 'suspended', { timeout: 2000 })
  await expect(pa.getByTestId('live-note')).toBeVisible()
  await expect(pa.getByTestId('action-resume')).toBeVisible()

  // A is cut off from the stream (its view goes stale) while B resumes and re-dispatches
  await pa.route('**/api/v1/dispatch/stream', (route) => route.abort())
  await pa.reload()
  await expect(pa.getByTestId('event-detail')).toHaveAttribute('data-status', 'suspended')
  await pb.getByTestId('action-resume').click()
  await pb.getByTestId('action-note').fill('业主已到场')
  await pb.getByTestId('action-submit').click()
  await expect(pb.getByTestId('event-detail')).toHaveAttribute('data-status', 'dispatched')

  // A acts on what it saw (version of the suspension): 409, what changed, retry
  await pa.getByTestId('action-void').click()
  await pa.getByTestId('action-note').fill('重复上报')
  await pa.getByTestId('action-submit').click()
  const conflict = pa.getByTestId('conflict')
  await expect(conflict).toBeVisible()
  await expect(conflict).toContainText('事件已被他人更新')
  await expect(conflict).toContainText('挂起 → 已派遣')
  await expect(pa.getByTestId('event-detail')).toHaveAttribute('data-status', 'dispatched')
  await shot(pa, 'conflict-409')
  await pa.getByTestId('conflict-retry').click()
  await expect(pa.getByTestId('event-detail')).toHaveAttribute('data-status', 'voided')
  const final = await api.event(ev.id)
  expect(final.status).toBe('voided')
  expect(final.version).toBeGreaterThan(v0)
  await a.close()
  await b.close()
  await api.ctx.dispose()
})

test('a dropped stream shows "reconnecting", resumes with Last-Event-ID and catches up', async ({ page, context }) => {
  const api = await Api.open()
  const streams: { lastEventId: string | undefined }[] = []
  page.on('request', (r) => {
    if (r.url().endsWith('/api/v1/dispatch/stream')) streams.push({ lastEventId: r.headers()['last-event-id'] })
  })
  await signIn(page, 'dispatch1', '/console/board')
  await expect(page.getByTestId('live-state')).toHaveAttribute('data-state', 'live')
  // one change so the console has an id to resume from
  const first = await api.report('g20m1', (await api.get('g20m1', '/api/v1/auth/me')).grid_code)
  const total = page.getByTestId('board-open-total')
  await expect(total).not.toHaveText('')
  await api.waitFor(first.id, (e) => e.status === 'dispatched')
  await page.waitForTimeout(500)
  const before = Number(await total.textContent())

  // the connection drops and the network stays down for a while
  await context.route('**/api/v1/dispatch/stream', (route) => route.abort('internetdisconnected'))
  await page.evaluate(() => (window as any).__wangge.dropStream())
  await expect(page.getByTestId('live-state')).toHaveAttribute('data-state', 'reconnecting')
  await expect(page.getByTestId('live-state')).toContainText('正在重连')
  await shot(page, 'board-reconnecting')
  const missed = await api.report('g20m2', (await api.get('g20m2', '/api/v1/auth/me')).grid_code)
  await context.unroute('**/api/v1/dispatch/stream')
  await expect(page.getByTestId('live-state')).toHaveAttribute('data-state', 'live', { timeout: 15000 })
  await expect(total).toHaveText(String(before + 1), { timeout: 5000 })
  const resumed = streams.slice(1)
  expect(resumed.length).toBeGreaterThan(0)
  expect(resumed.some((s) => s.lastEventId && /^\d+$/.test(s.lastEventId))).toBe(true)
  expect(missed.id).toBeGreaterThan(first.id)
  await api.ctx.dispose()
})
