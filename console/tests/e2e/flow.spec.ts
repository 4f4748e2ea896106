// The command centre's day: a report appears live on the map and the board, the dispatcher
// dispatches it by hand, the fix is rejected with a note, the second fix approved, and the
// timeline shows every step.
import { expect, test } from '@playwright/test'
import { Api, photos, shot, signIn } from './kit'

const GRID = '130203001002003' // 益民园社区第3网格: g11 (members g11m1/g11m2, head g11h)

test('report → live map and board → manual dispatch → reject → approve, with the timeline', async ({ browser }) => {
  const api = await Api.open()
  const me = await api.get('g11h', '/api/v1/auth/me')
  expect(me.grid_code).toBe(GRID)

  // the dispatcher's two screens: the map and the board (a wall screen and a desktop)
  const ctx = await browser.newContext()
  const map = await ctx.newPage()
  await signIn(map, 'dispatch1')
  await expect(map).toHaveURL(/\/console\/map$/)
  await expect(map.getByTestId('map-wrap')).toHaveAttribute('data-ready', 'true')
  await expect(map.getByTestId('live-state')).toHaveAttribute('data-state', 'live')
  const board = await ctx.newPage()
  await signIn(board, 'dispatch1', '/console/board')
  await expect(board).toHaveURL(/\/console\/board$/)
  await expect(board.getByTestId('live-state')).toHaveAttribute('data-state', 'live')
  const before = Number(await board.getByTestId('board-open-total').textContent())
  const mapBefore = Number(await map.getByTestId('map-open-count').getAttribute('data-count'))
  await shot(board, 'board-before')

  // a grid member reports from the phone: on the map and the board within 2 s, no reload
  const reported = await api.report('g11m1', GRID)
  await api.photo('g11m1', reported.id, 'report', photos.report)
  await expect(board.getByTestId('board-open-total')).toHaveText(String(before + 1), { timeout: 2000 })
  await expect(map.getByTestId('map-open-count')).toHaveAttribute('data-count', String(mapBefore + 1), { timeout: 2000 })
  await map.getByTestId('map-grid-select').selectOption(GRID)
  await expect(map.getByTestId('grid-panel')).toBeVisible()
  await expect(map.getByTestId('grid-staff')).toContainText('网格长')
  await expect(map.locator(`[data-testid=grid-events] [data-event="${reported.id}"]`)).toBeVisible({ timeout: 2000 })
  await shot(map, 'map-live')

  // the engine dispatched it to a member; the dispatcher re-dispatches it by hand to the head
  await api.waitFor(reported.id, (e) => e.status === 'dispatched')
  await map.locator(`[data-testid=grid-events] [data-event="${reported.id}"]`).click()
  const drawer = map.getByTestId('drawer')
  await expect(drawer.getByTestId('event-detail')).toBeVisible()
  await expect(drawer.getByTestId('photo-report')).toHaveCount(1)
  await drawer.getByTestId('photo-report').click()
  await expect(map.getByTestId('exif')).toContainText('39.67')
  await shot(map, 'photo-exif')
  await map.getByTestId('photo-dialog-close').click()
  const head = (await api.get('dispatch1', `/api/v1/grids/${GRID}`)).properties.staff.find((s: any) => s.role === 'head')
  await drawer.getByTestId('action-dispatch').click()
  await drawer.getByTestId('dispatch-mode').selectOption('person')
  await drawer.getByTestId('dispatch-person').selectOption(String(head.id))
  await drawer.getByTestId('action-note').fill('人工派遣给网格长')
  await drawer.getByTestId('action-submit').click()
  await expect(drawer.getByTestId('event-assignee')).toContainText(head.name)
  const dispatched = await api.event(reported.id)
  expect(dispatched.assignee_role).toBe('head')

  // the head acknowledges and resolves with a photo; the drawer follows live
  await api.act('g11h', reported.id, 'acknowledge')
  await api.photo('g11h', reported.id, 'resolve', photos.fix1)
  await api.act('g11h', reported.id, 'resolve', { note: '已清运' })
  await expect(drawer.getByTestId('event-detail')).toHaveAttribute('data-status', 'resolved')
  await expect(drawer.getByTestId('live-note')).toBeVisible()

  // reject: the note is required
  await drawer.getByTestId('action-review').click()
  await drawer.getByTestId('review-reject').check()
  await expect(drawer.getByTestId('action-submit')).toBeDisabled()
  await drawer.getByTestId('action-note').fill('现场仍有垃圾残留，请返工')
  await drawer.getByTestId('action-submit').click()
  await expect(drawer.getByTestId('event-detail')).toHaveAttribute('data-status', 'dispatched')
  // the note is on the event, and the original promise beside the restarted clock
  await expect(drawer.getByTestId('rejection-note')).toContainText('现场仍有垃圾残留，请返工')
  await expect(drawer.getByTestId('event-promised-due')).not.toHaveText('')

  // the second fix, approved
  await api.act('g11h', reported.id, 'acknowledge')
  await api.photo('g11h', reported.id, 'resolve', photos.fix2)
  await api.act('g11h', reported.id, 'resolve', { note: '已彻底清理' })
  await expect(drawer.getByTestId('event-detail')).toHaveAttribute('data-status', 'resolved')
  await expect(drawer.getByTestId('photo-resolve')).toHaveCount(2)
  await drawer.getByTestId('action-review').click()
  await drawer.getByTestId('review-approve').check()
  await drawer.getByTestId('action-submit').click()
  await expect(drawer.getByTestId('event-detail')).toHaveAttribute('data-status', 'closed')

  // every step on the timeline, in order (the timeline reloads just after the status shows)
  const timeline = drawer.locator('[data-testid=timeline] li')
  await expect
    .poll(() => timeline.evaluateAll((els) => els.map((e) => e.getAttribute('data-action'))))
    .toEqual(['register', 'dispatch', 'dispatch', 'acknowledge', 'resolve', 'review', 'acknowledge', 'resolve', 'review'])
  await expect(drawer.getByTestId('timeline')).toContainText('现场仍有垃圾残留，请返工')
  await drawer.getByTestId('timeline').scrollIntoViewIfNeeded()
  await shot(map, 'drawer-timeline')

  // closed: off the map and the board
  await expect(board.getByTestId('board-open-total')).toHaveText(String(before), { timeout: 2000 })
  await expect(map.getByTestId('map-open-count')).toHaveAttribute('data-count', String(mapBefore), { timeout: 2000 })
  await ctx.close()
  await api.ctx.dispose()
})
