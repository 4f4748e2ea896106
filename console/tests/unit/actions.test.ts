import { describe, expect, it } from 'vitest'

import type { EventOut, Me } from '../../src/api/types'
import { allowedActions } from '../../src/lib/actions'

const dispatcher = { role: 'dispatcher', staff_id: 7 } as unknown as Me
const member = { role: 'member', staff_id: 3, grid_code: '130203001001001' } as unknown as Me

function event(fields: Partial<EventOut>): EventOut {
  return { status: 'dispatched', level: 2, assignee: null, grid_code: '130203001001001', ...fields } as EventOut
}

describe('the command centre shared queue', () => {
  it('offers claim on a queued level-2 event to dispatchers only', () => {
    expect(allowedActions(dispatcher, event({}))).toContain('claim')
    expect(allowedActions(member, event({}))).not.toContain('claim')
  })
  it('no longer offers claim once someone holds the event', () => {
    const held = event({ assignee: { id: 8 } as EventOut['assignee'] })
    expect(allowedActions(dispatcher, held)).not.toContain('claim')
  })
})

const head = { role: 'head', staff_id: 5, grid_code: '130203001001001' } as unknown as Me
const held = (fields: Partial<EventOut>) =>
  event({ level: 0, assignee: { id: 3 } as EventOut['assignee'], assignee_role: 'member', ...fields })

describe('延期, 挂账 and 重开', () => {
  it('offers the decision on a pending request to the superior, never to the holder', () => {
    const asked = held({ pending_request: { kind: 'extension', requested_at: '', reason: 'x', deadline: '' } })
    expect(allowedActions(head, asked)).toEqual(expect.arrayContaining(['approve_extension', 'refuse_extension']))
    expect(allowedActions(head, asked)).not.toContain('approve_parking')
    expect(allowedActions(member, asked)).not.toContain('approve_extension')
    expect(allowedActions(dispatcher, asked)).toContain('approve_extension')
    expect(allowedActions(head, held({}))).not.toContain('approve_extension')
  })
  it('unparks a parked event (superior or command centre) and reopens a closed one (command centre)', () => {
    expect(allowedActions(head, held({ status: 'parked' }))).toContain('unpark')
    expect(allowedActions(member, held({ status: 'parked' }))).not.toContain('unpark')
    expect(allowedActions(dispatcher, held({ status: 'closed' }))).toEqual(['reopen'])
    expect(allowedActions(head, held({ status: 'closed' }))).toEqual([])
  })
})

describe('the holder asks: 延期, 挂账, 回退', () => {
  it('offers the requests to the holder only, one at a time', () => {
    expect(allowedActions(member, held({}))).toEqual(
      expect.arrayContaining(['request_extension', 'request_parking', 'return']),
    )
    expect(allowedActions(head, held({}))).not.toContain('request_extension')
    const asked = held({ pending_request: { kind: 'parking', requested_at: '', reason: 'x', deadline: null } })
    expect(allowedActions(member, asked)).not.toContain('request_extension')
    expect(allowedActions(member, asked)).toContain('return')
  })
  it('does not offer a return at the command centre, where it would go', () => {
    const atCentre = event({ level: 2, assignee: { id: 7 } as EventOut['assignee'], assignee_role: 'dispatcher' })
    expect(allowedActions(dispatcher, atCentre)).not.toContain('return')
    expect(allowedActions(dispatcher, atCentre)).toContain('request_extension')
  })
})
