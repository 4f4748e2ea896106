import { describe, expect, it, vi } from 'vitest'
import type { EventOut } from '../../src/api/types'
import { actWithVersion, changedFields, conflictOf } from '../../src/lib/conflict'

const base = {
  id: 7, status: 'dispatched', level: 0, version: 3, assignee: { id: 2, name: '汤国洋' }, due_at: 'a',
  ack_due_at: 'b', rework_count: 0, escalation_count: 0, suspended_at: null, closed_at: null, voided_at: null,
} as unknown as EventOut

class HttpError extends Error {
  constructor(public status: number, public detail: unknown) {
    super('http')
  }
}

describe('the 409 retry', () => {
  it('sends the version it saw and answers the result', async () => {
    const send = vi.fn(async (v: number) => ({ ...base, version: v + 1 }))
    const r = await actWithVersion(base, send, async () => base)
    expect(send).toHaveBeenCalledWith(3)
    expect(r.ok && r.result.version).toBe(4)
  })

  it('on a stale version re-reads the event and says what changed; a retry uses the fresh version', async () => {
    const fresh = { ...base, version: 5, status: 'suspended', suspended_at: 'now' } as unknown as EventOut
    const send = vi.fn(async (v: number) => {
      if (v < 5) throw new HttpError(409, [{ loc: ['body', 'version'], msg: 'event version is 5, the command expected 3', type: 'stale_version', expected_version: 3, version: 5 }])
      return { ...fresh, version: 6 }
    })
    const r = await actWithVersion(base, send, async () => fresh)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.conflict).toEqual({ kind: 'stale', currentVersion: 5, status: null, allowed: [] })
    expect(r.changes.map((c) => c.field)).toEqual(['status', 'suspended_at'])
    const retry = await actWithVersion(r.fresh, send, async () => r.fresh)
    expect(send).toHaveBeenLastCalledWith(5)
    expect(retry.ok).toBe(true)
  })

  it('reads an illegal transition as such, with the allowed actions', () => {
    expect(conflictOf([{ loc: [], msg: "action 'resume' is not allowed", type: 'illegal_transition', status: 'dispatched', allowed: ['dispatch', 'void'], version: 2 }])).toEqual({
      kind: 'illegal', currentVersion: 2, status: 'dispatched', allowed: ['dispatch', 'void'],
    })
  })

  it('does not swallow other errors', async () => {
    await expect(actWithVersion(base, async () => { throw new HttpError(403, [{ loc: [], msg: 'no', type: 'forbidden' }]) }, async () => base)).rejects.toThrow()
  })

  it('lists only the fields that differ', () => {
    expect(changedFields(base, { ...base, level: 1, assignee: { id: 9, name: 'x' } } as EventOut).map((c) => c.field)).toEqual(['level', 'assignee'])
  })
})
