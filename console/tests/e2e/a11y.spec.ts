// Accessibility: axe-core on every screen (no serious or critical violations), keyboard use
// of the event queue, and the wall-screen size.
import AxeBuilder from '@axe-core/playwright'
import { expect, test } from '@playwright/test'
import { Api, shot, signIn } from './kit'

// open events of their own, whatever ran before
test.beforeAll(async () => {
  const api = await Api.open()
  await api.report('g03m1', '130203001001003')
  await api.report('g04m2', '130203001001004', 'street_light', '路灯不亮')
  await api.ctx.dispose()
})

async function noSeriousViolations(page: import('@playwright/test').Page, name: string) {
  const result = await new AxeBuilder({ page }).exclude('.leaflet-marker-pane').analyze()
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(bad.map((v) => `${name}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)).toEqual([])
}

test('axe: no serious or critical violations on the screens; nothing blocked by the CSP', async ({ page }) => {
  const blocked: string[] = []
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) blocked.push(m.text())
  })
  const resp = await page.goto('/console/signin')
  const csp = resp?.headers()['content-security-policy'] ?? ''
  expect(csp).toContain("script-src 'self'")
  expect(csp).not.toContain('unsafe-inline')
  await page.goto('/console/signin')
  await noSeriousViolations(page, 'signin')
  await signIn(page, 'dispatch1')
  await expect(page.getByTestId('map-wrap')).toHaveAttribute('data-ready', 'true')
  await noSeriousViolations(page, 'map')
  const ready: Record<string, string> = { board: 'board-open-total', events: 'queue', evaluation: 'chart' }
  for (const screen of ['board', 'events', 'evaluation']) {
    await page.getByTestId(`menu-${screen}`).click()
    await expect(page.getByTestId(ready[screen])).toBeVisible()
    await page.waitForTimeout(300)
    await noSeriousViolations(page, screen)
  }
  await page.getByTestId('menu-events').click()
  await page.locator('[data-event]').first().click()
  await expect(page.getByTestId('drawer')).toBeVisible()
  await noSeriousViolations(page, 'drawer')
  expect(blocked).toEqual([])
})

test('keyboard: the menu and the queue (j/k, Enter) work without a mouse, with a visible focus', async ({ page }) => {
  await signIn(page, 'dispatch1', '/console/events')
  await expect(page.locator('[data-event]').first()).toBeVisible()
  await page.getByTestId('queue').focus()
  const rows = await page.locator('tbody tr[data-event]').count()
  if (rows > 1) {
    await page.keyboard.press('j')
    await expect(page.locator('tr[data-row="1"]')).toHaveClass(/sel/)
    await page.keyboard.press('k')
  }
  await expect(page.locator('tr[data-row="0"]')).toHaveClass(/sel/)
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('drawer')).toBeVisible()
  await expect(page.getByTestId('drawer-close')).toBeFocused()
  const outline = await page.getByTestId('drawer-close').evaluate((el) => getComputedStyle(el).outlineStyle)
  expect(outline).not.toBe('none')
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('drawer')).toHaveCount(0)
  // the menu is reachable with the keyboard (backwards from the queue)
  let found = false
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Shift+Tab')
    found = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'menu-map')
  }
  expect(found).toBe(true)
})

test('the wall screen: 1920×1080', async ({ browser }) => {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } })
  const page = await ctx.newPage()
  await signIn(page, 'dispatch1', '/console/board')
  await expect(page.getByTestId('board-open-total')).toBeVisible()
  await shot(page, 'wall-board-1920')
  await page.getByTestId('menu-map').click()
  await expect(page.getByTestId('map-wrap')).toHaveAttribute('data-ready', 'true')
  await shot(page, 'wall-map-1920')
  await ctx.close()
})
