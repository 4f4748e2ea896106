import { describe, expect, it, vi } from 'vitest'

vi.stubGlobal('sessionStorage', { getItem: () => null, setItem: () => undefined })

describe('the dictionaries', () => {
  it('have the same keys in Chinese and English, and interpolate', async () => {
    const { dictionaries, setLocale, t } = await import('../../src/i18n')
    expect(Object.keys(dictionaries.en).sort()).toEqual(Object.keys(dictionaries['zh-CN']).sort())
    expect(t('event_n', { id: 7 })).toBe('事件 #7')
    setLocale('en')
    expect(t('event_n', { id: 7 })).toBe('Event #7')
    setLocale('zh-CN')
  })
})
