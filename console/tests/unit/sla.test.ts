import { describe, expect, it } from 'vitest'
import { countdown, nextDeadline, slaState, stateOfCounts, worstState } from '../../src/lib/sla'

const T0 = Date.parse('2026-11-29T04:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()
// dispatched at T0: 10 min to acknowledge, 30 min to resolve
const dispatched = {
  status: 'dispatched' as const,
  ack_due_at: iso(T0 + 10 * 60_000),
  due_at: iso(T0 + 30 * 60_000),
  ack_warn_at: iso(T0 + 5 * 60_000),
  resolve_warn_at: iso(T0 + 15 * 60_000),
}

describe('slaState (domain/lifecycle/sla.py)', () => {
  it('is ok before half of either allowance', () => {
    expect(slaState(dispatched, T0 + 4 * 60_000)).toBe('ok')
  })
  it('warns from 50 % of the acknowledgement allowance', () => {
    expect(slaState(dispatched, T0 + 5 * 60_000 - 1)).toBe('ok')
    expect(slaState(dispatched, T0 + 5 * 60_000)).toBe('warning')
  })
  it('is breached at the acknowledgement deadline while dispatched', () => {
    expect(slaState(dispatched, T0 + 10 * 60_000)).toBe('breached')
  })
  it('runs only the resolution clock once acknowledged', () => {
    const ack = { ...dispatched, status: 'acknowledged' as const }
    expect(slaState(ack, T0 + 12 * 60_000)).toBe('ok')
    expect(slaState(ack, T0 + 15 * 60_000)).toBe('warning')
    expect(slaState(ack, T0 + 30 * 60_000)).toBe('breached')
  })
  it('is ok when no clock runs (registered, resolved, suspended, closed)', () => {
    for (const status of ['registered', 'resolved', 'suspended', 'closed'] as const) {
      expect(slaState({ ...dispatched, status }, T0 + 60 * 60_000)).toBe('ok')
    }
  })
  it('warns from the mark the API sends (on a working calendar it is not halfway in wall time)', () => {
    // working time: a mark the evening before a holiday, the deadline a week later
    const resumed = {
      ...dispatched,
      status: 'acknowledged' as const,
      resolve_warn_at: iso(T0 + 25 * 60_000),
      due_at: iso(T0 + 7 * 86_400_000),
    }
    expect(slaState(resumed, T0 + 25 * 60_000 - 1)).toBe('ok')
    expect(slaState(resumed, T0 + 25 * 60_000)).toBe('warning')
  })
  it('without a warning mark only the breach is known', () => {
    const bare = { ...dispatched, ack_warn_at: null, resolve_warn_at: null }
    expect(slaState(bare, T0 + 9 * 60_000)).toBe('ok')
    expect(slaState(bare, T0 + 10 * 60_000)).toBe('breached')
  })
  it('colours a grid by its worst event, or by the board counts', () => {
    expect(worstState(['ok', 'breached', 'warning'])).toBe('breached')
    expect(worstState([])).toBe('ok')
    expect(stateOfCounts({ open: 0, warning: 0, breached: 0 })).toBe('none')
    expect(stateOfCounts({ open: 3, warning: 0, breached: 0 })).toBe('ok')
    expect(stateOfCounts({ open: 3, warning: 1, breached: 0 })).toBe('warning')
    expect(stateOfCounts({ open: 3, warning: 1, breached: 1 })).toBe('breached')
  })
})

describe('countdown', () => {
  it('counts down m:ss and h:mm:ss, then counts the overdue time', () => {
    const due = iso(T0 + 125_000)
    expect(countdown(due, T0)).toEqual({ overdue: false, text: '2:05' })
    expect(countdown(iso(T0 + 3_723_000), T0)).toEqual({ overdue: false, text: '1:02:03' })
    expect(countdown(due, T0 + 130_000)).toEqual({ overdue: true, text: '0:05' })
    expect(countdown(iso(T0 + 90_061_000), T0)).toEqual({ overdue: false, text: '1d 1:01:01' })
    expect(countdown(null, T0)).toBeNull()
  })
  it('follows the acknowledgement deadline while it runs and is earlier', () => {
    expect(nextDeadline(dispatched)).toBe(dispatched.ack_due_at)
    expect(nextDeadline({ ...dispatched, status: 'acknowledged' })).toBe(dispatched.due_at)
    expect(nextDeadline({ ...dispatched, status: 'suspended' })).toBeNull()
  })
})
