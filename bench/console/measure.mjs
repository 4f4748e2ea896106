// The browser half of bench/console (run by __main__.py): cold loads of the map and the board,
// sign-in to a usable map, and SSE-driven changes shown on the board and the map. Prints one
// JSON line. Uses the console's own Playwright (console/node_modules) with Debian's Chromium.
import { createRequire } from 'node:module'
import path from 'node:path'
import { randomUUID } from 'node:crypto'

const require = createRequire(path.join(process.env.CONSOLE_DIR, 'package.json'))
const { chromium } = require('@playwright/test')
const BASE = process.env.BASE
const RUNS = Number(process.env.RUNS || 5)
const CHANGES = Number(process.env.CHANGES || 100)
const PASSWORD = 'wangge-demo'

async function token(user) {
  const r = await fetch(`${BASE}/api/v1/auth/token`, { method: 'POST', body: new URLSearchParams({ username: user, password: PASSWORD }) })
  if (!r.ok) throw new Error(`sign-in ${user}: ${r.status}`)
  return r.json()
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
const viewport = { width: 1920, height: 1080 }

/** A fresh context (empty cache) already holding a session: a wall screen reloaded. */
async function coldPage() {
  const { refresh_token } = await token('dispatch1')
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN' })
  await ctx.addInitScript((t) => {
    if (!sessionStorage.getItem('wangge.refresh')) sessionStorage.setItem('wangge.refresh', t)
  }, refresh_token)
  return { ctx, page: await ctx.newPage() }
}

async function markAfterNavigation(page, url, mark) {
  await page.goto(url)
  await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark, { timeout: 30000, polling: 50 })
  return page.evaluate((m) => performance.getEntriesByName(m)[0].startTime / 1000, mark)
}

const result = { map: [], board: [], signin: [], sseBoard: [], sseMap: [], firstScreenFiles: [], open: 0, browser: browser.version() }

for (let i = 0; i < RUNS; i++) {
  {
    const { ctx, page } = await coldPage()
    const files = []
    page.on('response', (r) => {
      const u = new URL(r.url())
      if (u.pathname.startsWith('/console/') && !u.pathname.endsWith('config.json')) files.push(u.pathname.slice('/console/'.length) || 'index.html')
    })
    result.map.push(await markAfterNavigation(page, `${BASE}/console/map`, 'wangge:map-usable'))
    result.open = Number(await page.getByTestId('map-open-count').getAttribute('data-count'))
    if (i === 0) result.firstScreenFiles = [...new Set(files.map((f) => (f === 'map' ? 'index.html' : f)))]
    await ctx.close()
  }
  {
    const { ctx, page } = await coldPage()
    result.board.push(await markAfterNavigation(page, `${BASE}/console/board`, 'wangge:board-usable'))
    await ctx.close()
  }
  {
    const ctx = await browser.newContext({ viewport, locale: 'zh-CN' })
    const page = await ctx.newPage()
    await page.goto(`${BASE}/console/signin`)
    await page.getByTestId('username').fill('dispatch2')
    await page.getByTestId('password').fill(PASSWORD)
    const t0 = await page.evaluate(() => performance.now())
    await page.getByTestId('signin').click()
    await page.waitForFunction(() => performance.getEntriesByName('wangge:map-usable').length > 0, null, { timeout: 30000, polling: 50 })
    const t1 = await page.evaluate(() => performance.getEntriesByName('wangge:map-usable')[0].startTime)
    result.signin.push((t1 - t0) / 1000)
    await ctx.close()
  }
}

// SSE: a board and a map, both live; each change is a new report (the open count goes up by one)
{
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN' })
  const board = await ctx.newPage()
  const map = await ctx.newPage()
  for (const [page, url] of [[board, '/board'], [map, '/map']]) {
    await page.goto(`${BASE}/console/signin?next=${encodeURIComponent(url)}`)
    await page.getByTestId('username').fill('dispatch3')
    await page.getByTestId('password').fill(PASSWORD)
    await page.getByTestId('signin').click()
    await page.waitForSelector('[data-testid=live-state][data-state=live]')
  }
  await board.waitForSelector('[data-testid=board-open-total]')
  await map.waitForSelector('[data-testid=map-wrap][data-ready=true]')
  // each page notes (epoch ms) when each count first appears
  await board.evaluate(() => {
    window.__seen = {}
    const el = document.querySelector('[data-testid=board-open-total]')
    new MutationObserver(() => { window.__seen[el.textContent.trim()] ??= Date.now() }).observe(el, { childList: true, characterData: true, subtree: true })
  })
  await map.evaluate(() => {
    window.__seen = {}
    const el = document.querySelector('[data-testid=map-open-count]')
    new MutationObserver(() => { window.__seen[el.getAttribute('data-count')] ??= Date.now() }).observe(el, { attributes: true })
  })
  const me = await token('g01m1')
  const grid = await (await fetch(`${BASE}/api/v1/grids/130203001001001`, { headers: { Authorization: `Bearer ${me.access_token}` } })).json()
  const ring = grid.geometry.coordinates[0][0].slice(0, -1)
  const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length
  const lat = ring.reduce((s, p) => s + p[1], 0) / ring.length
  let count = Number(await board.getByTestId('board-open-total').textContent())
  let mapCount = Number(await map.getByTestId('map-open-count').getAttribute('data-count'))
  let auth = me.access_token
  let authAt = Date.now()
  for (let i = 0; i < CHANGES; i++) {
    if (Date.now() - authAt > 600_000) { auth = (await token('g01m1')).access_token; authAt = Date.now() }
    const t0 = Date.now()
    const r = await fetch(`${BASE}/api/v1/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: randomUUID(), category: 'exposed_garbage', description: `SSE 基准 ${i}`, location: { lon, lat, coord: 'wgs84' } }),
    })
    if (r.status !== 201) throw new Error(`report ${r.status}: ${await r.text()}`)
    count += 1
    mapCount += 1
    const seenBoard = await board.waitForFunction((c) => window.__seen[String(c)], count, { timeout: 15000, polling: 20 })
    const seenMap = await map.waitForFunction((c) => window.__seen[String(c)], mapCount, { timeout: 15000, polling: 20 })
    result.sseBoard.push(((await seenBoard.jsonValue()) - t0) / 1000)
    result.sseMap.push(((await seenMap.jsonValue()) - t0) / 1000)
    await new Promise((r) => setTimeout(r, 150))
  }
  await ctx.close()
}
await browser.close()
console.log(JSON.stringify(result))
