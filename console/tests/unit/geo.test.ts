import { describe, expect, it } from 'vitest'
import { outline, wgs84ToGcj02 } from '../../src/lib/geo'
import { allowedActions } from '../../src/lib/actions'

describe('map helpers', () => {
  it('shifts WGS-84 to GCJ-02 by the known few hundred metres near Tangshan', () => {
    const [lon, lat] = wgs84ToGcj02(118.165, 39.6715)
    expect(lon - 118.165).toBeGreaterThan(0.005)
    expect(lon - 118.165).toBeLessThan(0.008)
    expect(lat - 39.6715).toBeGreaterThan(0.0005)
    expect(wgs84ToGcj02(2.35, 48.85)).toEqual([2.35, 48.85])
  })
  it('keeps only the outer edges of two squares sharing a side', () => {
    const sq = (x: number) => ({ type: 'Polygon', coordinates: [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]] })
    const edges = outline([sq(0), sq(1)])
    expect(edges).toHaveLength(6)
    expect(edges.some(([a, b]) => a[0] === 1 && b[0] === 1)).toBe(false)
  })
})

describe('allowed actions by role and status', () => {
  const me = (role: string, extra = {}) => ({ username: 'u', staff_id: 5, role, grid_code: 'G1', community: null, department: null, ...extra }) as any
  const ev = (extra = {}) => ({ status: 'dispatched', level: 0, grid_code: 'G1', assignee: { id: 2, name: 'm' }, assignee_role: 'member', department: null, ...extra }) as any
  it('gives the command centre dispatch, suspend and void on a running event', () => {
    expect(allowedActions(me('dispatcher'), ev())).toEqual(['dispatch', 'suspend', 'void'])
  })
  it('gives the review of a member\'s fix to the grid head, of any other to the command centre', () => {
    expect(allowedActions(me('head'), ev({ status: 'resolved' }))).toEqual(['review'])
    expect(allowedActions(me('dispatcher'), ev({ status: 'resolved' }))).toEqual([])
    expect(allowedActions(me('dispatcher'), ev({ status: 'resolved', assignee_role: 'head' }))).toEqual(['review'])
  })
  it('lets the assignee acknowledge, escalate and ask, and only the command centre reopen a closed event', () => {
    expect(allowedActions(me('head', { staff_id: 2 }), ev())).toEqual([
      'acknowledge', 'escalate', 'request_extension', 'request_parking', 'return',
    ])
    expect(allowedActions(me('dispatcher'), ev({ status: 'closed' }))).toEqual(['reopen'])
    expect(allowedActions(me('head', { staff_id: 2 }), ev({ status: 'closed' }))).toEqual([])
    expect(allowedActions(me('dispatcher'), ev({ status: 'voided' }))).toEqual([])
    expect(allowedActions(me('evaluator'), ev())).toEqual([])
  })
})
