// Who sees what: an evaluator's dashboard with a chart, a drill-down and an XLSX download; a
// grid head who sees only their grid and the actions they may take, and asks for an extension
// (延期) that their community approves; a grid member sent to the phone app.
import { expect, test } from '@playwright/test'
import path from 'node:path'
import { Api, ARTIFACTS, shot, signIn } from './kit'

test('the evaluator: dashboard, chart, drill-down, XLSX download', async ({ page }) => {
  await signIn(page, 'evaluator')
  await expect(page).toHaveURL(/\/console\/evaluation$/)
  await expect(page.getByTestId('menu-evaluation')).toBeVisible()
  await expect(page.getByTestId('resolution')).toBeVisible()
  await expect(page.locator('[data-testid=chart] canvas')).toHaveCount(1)
  await page.getByTestId('eval-group').selectOption('grid')
  await expect(page.getByTestId('resolution')).toContainText('网格')
  await shot(page, 'evaluation')
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('dl-xlsx').click()])
  expect(download.suggestedFilename()).toMatch(/\.xlsx$/)
  await download.saveAs(path.join(ARTIFACTS, 'evaluation.xlsx'))

  await page.getByTestId('tab-indicators').click()
  await expect(page.getByTestId('indicators')).toContainText('按期处置率')
  await page.getByTestId('drill-valid_report').click()
  await expect(page.getByTestId('drill')).toBeVisible()
  await page.getByTestId('tab-scorecard').click()
  await expect(page.getByTestId('scorecard')).toBeVisible()
  await expect(page.locator('[data-testid=scorecard] [data-testid=grid-map] path.leaflet-interactive')).toHaveCount(44)
  await shot(page, 'scorecard')
  await page.getByTestId('tab-coverage').click()
  await expect(page.getByTestId('coverage')).toBeVisible()
  // evaluators read only: no action buttons on an event
  await page.goto('/console/events?status=')
  await page.locator('[data-event]').first().click()
  await expect(page.getByTestId('no-actions')).toBeVisible()
})

test('a grid head sees only their grid, and only their menus and actions', async ({ page }) => {
  const api = await Api.open()
  const own = await api.report('g07m2', '130203001001007')
  const other = await api.report('g12m1', (await api.get('g12m1', '/api/v1/auth/me')).grid_code)
  await signIn(page, 'g07h')
  await expect(page).toHaveURL(/\/console\/map$/)
  await expect(page.getByTestId('menu-map')).toBeVisible()
  await expect(page.getByTestId('menu-events')).toBeVisible()
  await expect(page.getByTestId('menu-board')).toHaveCount(0)
  await expect(page.getByTestId('menu-evaluation')).toHaveCount(0)
  await expect(page.getByTestId('live-state')).toHaveCount(0)
  await page.goto('/console/board')
  await expect(page).toHaveURL(/\/console\/map$/)
  await page.getByTestId('menu-events').click()
  await expect(page.locator(`[data-event="${own.id}"]`)).toBeVisible()
  await expect(page.locator(`[data-event="${other.id}"]`)).toHaveCount(0)
  const grids = await page.locator('tbody tr[data-event]').evaluateAll((rows) => rows.length)
  expect(grids).toBeGreaterThan(0)
  await shot(page, 'grid-head-events')
  await page.locator(`[data-event="${own.id}"]`).click()
  await expect(page.getByTestId('drawer')).toBeVisible()
  // a member's event, dispatched by the engine: the head has no dispatch, suspend or resume
  await expect(page.getByTestId('action-dispatch')).toHaveCount(0)
  await expect(page.getByTestId('action-suspend')).toHaveCount(0)
  await page.goto(`/console/events/${other.id}`)
  await expect(page.getByRole('alert')).toBeVisible()

  // 延期 in the browser: the head holds an event and asks for more time; the API's 422 shows at
  // the deadline field; the community (the head's superior) approves and the deadline moves
  const held = await api.report('g07m1', '130203001001007')
  await api.waitFor(held.id, (e) => e.status === 'dispatched')
  const headId = (await api.get('g07h', '/api/v1/auth/me')).staff_id
  const given = await api.act('dispatch1', held.id, 'dispatch', { assignee_id: headId })
  const shanghai = (ms: number) => new Date(ms + 8 * 3600e3).toISOString().slice(0, 16)
  const wanted = shanghai(Date.parse(given.due_at) + 86400e3)
  await page.goto(`/console/events/${held.id}`)
  await page.getByTestId('action-request_extension').click()
  await page.getByLabel('申请的新处置时限', { exact: true }).fill(shanghai(Date.now() + 40 * 86400e3))
  await page.getByLabel('原因', { exact: true }).fill('需等待物业配合')
  await page.getByTestId('action-submit').click()
  await expect(page.getByTestId('request-deadline-error')).toContainText('30 days')
  await page.getByLabel('申请的新处置时限', { exact: true }).fill(wanted)
  await page.getByTestId('action-submit').click()
  await expect(page.getByTestId('action-request_extension')).toHaveCount(0)
  await shot(page, 'extension-requested')
  const superior = await page.context().browser()!.newPage()
  await signIn(superior, 'comm01')
  await superior.goto(`/console/events/${held.id}`)
  await superior.getByTestId('action-approve_extension').click()
  await superior.getByTestId('action-submit').click()
  await expect(superior.getByTestId('event-promised-due')).toHaveText(`${wanted.replace('T', ' ')}:00`)
  expect(Date.parse((await api.event(held.id)).due_at)).toBe(Date.parse(`${wanted}:00+08:00`))
  await superior.close()
  await api.ctx.dispose()
})

test('a grid member is sent to the phone app', async ({ page }) => {
  await signIn(page, 'g02m1')
  await expect(page).toHaveURL(/\/console\/member$/)
  await expect(page.getByTestId('member-notice')).toContainText('手机')
  await expect(page.getByTestId('menu-map')).toHaveCount(0)
})
