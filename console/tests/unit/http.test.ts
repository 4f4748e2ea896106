import { describe, expect, it } from 'vitest'
import { messageOf } from '../../src/api/http'

describe('error bodies', () => {
  it('reads the one error shape: a list of {loc, msg, type}', () => {
    expect(messageOf([{ loc: ['body', 'category'], msg: 'unknown category', type: 'value_error' }, { loc: [], msg: 'and more', type: 'x' }]))
      .toBe('unknown category; and more')
  })
  it('still says something for anything else', () => {
    expect(messageOf('plain')).toBe('plain')
    expect(messageOf({ a: 1 })).toBe('{"a":1}')
  })
})
