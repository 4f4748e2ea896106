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
