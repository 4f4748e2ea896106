// Sign-in messages (wrong password, the wait after too many attempts, an expired session), the silent
// refresh of an expired access token, deep links on reload, and sign-out revoking the token.
import { expect, test } from '@playwright/test'
import { Api, shot, signIn } from './kit'

// The console's test server issues 15-second access tokens (tests/e2e/test_console.py).
const ACCESS_SECONDS = 15

test('wrong password, then a wait with the time to retry', async ({ page }) => {
  await page.goto('/console/')
  await expect(page).toHaveURL(/\/console\/signin/)
  await page.getByTestId('username').fill('g44h')
  for (let i = 0; i < 5; i++) {
    await page.getByTestId('password').fill('not-the-password')
    await page.getByTestId('signin').click()
    await expect(page.getByTestId('signin-error')).toHaveText('用户名或密码错误')
  }
  // the sixth attempt from this address waits (5 a minute): the time and the seconds are shown
  await page.getByTestId('password').fill('not-the-password')
  await page.getByTestId('signin').click()
  await expect(page.getByTestId('signin-error')).toContainText('尝试次数过多')
  const shown = (await page.getByTestId('signin-error').textContent()) ?? ''
  const seconds = Number(/（(\d+) 秒后）/.exec(shown)?.[1])
  expect(seconds).toBeGreaterThanOrEqual(1)
  expect(seconds).toBeLessThanOrEqual(12)
  // the time shown is Asia/Shanghai (the browser runs in UTC): hh:mm:ss of now + the wait, +8 h
  const at = new Date(Date.now() + seconds * 1000 + 8 * 3600 * 1000).toISOString().slice(11, 16)
  const minute = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5))
  const m = /(\d\d:\d\d):\d\d/.exec(shown)
  expect(m).not.toBeNull()
  expect(Math.abs(minute(m![1]) - minute(at)) % (24 * 60)).toBeLessThanOrEqual(1)
  await shot(page, 'signin-throttled')
})

test('an expired access token is refreshed silently; a deep link survives a reload', async ({ page }) => {
  await signIn(page, 'dispatch2', '/console/events?status=closed')
  await expect(page).toHaveURL(/\/console\/events\?status=closed/)
  await expect(page.getByTestId('filter-status')).toHaveValue('closed')
  await page.reload()
  await expect(page.getByTestId('queue')).toBeVisible()
  await expect(page.getByTestId('filter-status')).toHaveValue('closed')
  // nothing in localStorage; the refresh token is in this tab's sessionStorage only
  expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('wangge')))).toEqual([])
  const refreshes: number[] = []
  page.on('response', (r) => {
    if (r.url().endsWith('/api/v1/auth/refresh')) refreshes.push(r.status())
  })
  await page.waitForTimeout((ACCESS_SECONDS + 1) * 1000)
  await page.getByTestId('menu-board').click()
  await expect(page.getByTestId('board-open-total')).toBeVisible()
  await expect(page).toHaveURL(/\/console\/board$/)
  expect(refreshes).toContain(200)
})

test('a session whose refresh token is gone says so; sign-out revokes the refresh token', async ({ page }) => {
  const api = await Api.open()
  await signIn(page, 'dispatch3', '/console/board')
  await expect(page.getByTestId('board-open-total')).toBeVisible()
  // another sign-out elsewhere revoked this tab's refresh token
  const refresh = await page.evaluate(() => sessionStorage.getItem('wangge.refresh'))
  expect(refresh).toBeTruthy()
  const token = await api.token('dispatch3')
  const out = await api.ctx.post('/api/v1/auth/logout', { headers: { Authorization: `Bearer ${token}` }, data: { refresh_token: refresh } })
  expect(out.status()).toBe(204)
  await page.waitForTimeout((ACCESS_SECONDS + 1) * 1000)
  await page.getByTestId('menu-events').click()
  await expect(page.getByTestId('expired')).toHaveText('登录已过期，请重新登录')
  await shot(page, 'signin-expired')

  // sign in again and sign out with the button: the refresh token no longer works
  await page.getByTestId('username').fill('dispatch3')
  await page.getByTestId('password').fill('wangge-demo')
  await page.getByTestId('signin').click()
  await expect(page.getByTestId('signout')).toBeVisible()
  const second = await page.evaluate(() => sessionStorage.getItem('wangge.refresh'))
  await page.getByTestId('signout').click()
  await expect(page).toHaveURL(/\/console\/signin/)
  expect(await page.evaluate(() => sessionStorage.getItem('wangge.refresh'))).toBeNull()
  const reuse = await api.ctx.post('/api/v1/auth/refresh', { data: { refresh_token: second } })
  expect(reuse.status()).toBe(401)
  await api.ctx.dispose()
})
