import { describe, expect, it } from 'vitest'

import type { EventOut } from '../../src/api/types'
import { currentDeadline, fieldErrors, problems, requestBody } from '../../src/lib/requests'
import { localIso } from '../../src/lib/time'

const NOW = Date.parse('2026-12-01T10:00:00+08:00')
const TODAY = '2026-12-01'
const event = {
  version: 4,
  due_at: '2026-12-02T01:00:00Z', // 09:00 in Shanghai
  promised_due_at: '2026-12-02T09:30:00Z', // 17:30: later, so the floor
} as unknown as EventOut
const fields = (over: Partial<{ note: string; deadline: string; reviewOn: string }>) => ({
  note: '需等待物业配合',
  deadline: '2026-12-03T17:30',
  reviewOn: '',
  ...over,
})

describe('the wall time of the service zone', () => {
  it('is sent with its offset', () => {
    expect(localIso('2026-12-03T17:30')).toBe('2026-12-03T17:30:00+08:00')
    expect(localIso('2026-12-03T17:30:15')).toBe('2026-12-03T17:30:15+08:00')
    expect(localIso('tomorrow')).toBe('')
  })
})

describe('延期 (request_extension)', () => {
  it('must go beyond the later of due_at and the promise', () => {
    expect(currentDeadline(event)).toBe('2026-12-02T09:30:00Z')
    expect(problems('request_extension', fields({}), event, NOW, TODAY)).toEqual({})
    expect(problems('request_extension', fields({ deadline: '2026-12-02T17:30' }), event, NOW, TODAY)).toEqual({
      deadline: 'deadline_not_later',
    })
    expect(problems('request_extension', fields({ deadline: '2026-12-02T17:31' }), event, NOW, TODAY)).toEqual({})
  })
  it('needs a reason and a deadline', () => {
    expect(problems('request_extension', fields({ note: '  ', deadline: '' }), event, NOW, TODAY)).toEqual({
      note: 'reason_required',
      deadline: 'deadline_required',
    })
  })
  it('sends the reason and the deadline with its offset', () => {
    expect(requestBody('request_extension', fields({ note: ' 等配件 ' }), 4)).toEqual({
      version: 4,
      note: '等配件',
      deadline: '2026-12-03T17:30:00+08:00',
    })
  })
})

describe('挂账 (request_parking) and 回退 (return)', () => {
  it('parks with or without a review date after today', () => {
    expect(problems('request_parking', fields({ deadline: '' }), event, NOW, TODAY)).toEqual({})
    expect(problems('request_parking', fields({ reviewOn: TODAY }), event, NOW, TODAY)).toEqual({
      review_on: 'review_on_not_later',
    })
    expect(requestBody('request_parking', fields({ reviewOn: '2027-03-01' }), 4)).toEqual({
      version: 4,
      note: '需等待物业配合',
      review_on: '2027-03-01',
    })
    expect(requestBody('request_parking', fields({}), 4)).toEqual({ version: 4, note: '需等待物业配合' })
  })
  it('returns with a reason only', () => {
    expect(problems('return', fields({ note: '' }), event, NOW, TODAY)).toEqual({ note: 'reason_required' })
    expect(requestBody('return', fields({}), 4)).toEqual({ version: 4, note: '需等待物业配合' })
  })
})

describe("the API's 422 detail", () => {
  it('goes to the field it names', () => {
    const detail = [
      { loc: ['body', 'deadline'], msg: 'the new deadline must be later' },
      { loc: ['body', 'note'], msg: 'String should have at least 1 character' },
      { loc: ['body'], msg: 'a return needs a reason (note)' },
    ]
    expect(fieldErrors('request_extension', detail)).toEqual({
      deadline: 'the new deadline must be later',
      note: 'String should have at least 1 character',
      '': 'a return needs a reason (note)',
    })
  })
  it("puts the core's check of a parking date (its deadline) on the review date", () => {
    expect(fieldErrors('request_parking', [{ loc: ['body', 'deadline'], msg: 'too far' }])).toEqual({ review_on: 'too far' })
    expect(fieldErrors('request_parking', [{ loc: ['body', 'review_on'], msg: 'bad date' }])).toEqual({ review_on: 'bad date' })
  })
})
