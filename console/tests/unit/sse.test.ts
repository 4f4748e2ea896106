import { describe, expect, it } from 'vitest'
import { SseClient, SseParser, type SseMessage, type SseState } from '../../src/api/sse'

describe('SseParser', () => {
  it('parses messages split across chunks, ignores comments, keeps the last id', () => {
    const p = new SseParser()
    expect(p.feed(': live\n\nid: 4')).toEqual([])
    expect(p.feed('1\nevent: change\ndata: {"a":')).toEqual([])
    expect(p.feed('1}\n\n: keep-alive\n\n')).toEqual([{ id: '41', event: 'change', data: '{"a":1}' }])
    expect(p.lastEventId).toBe('41')
  })
  it('handles CRLF, multi-line data and a CR split between chunks', () => {
    const p = new SseParser()
    expect(p.feed('data: a\r\ndata: b\r')).toEqual([])
    expect(p.feed('\n\r\n')).toEqual([{ id: null, event: 'message', data: 'a\nb' }])
  })
})

/** A fetch double: each call answers the next scripted stream (chunks, then close). */
function scriptedFetch(streams: (string[] | number)[], seen: Record<string, string>[]) {
  let call = 0
  return (async (_url: string, init: RequestInit) => {
    seen.push({ ...(init.headers as Record<string, string>) })
    const script = streams[Math.min(call++, streams.length - 1)]
    if (typeof script === 'number') return new Response('', { status: script })
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of script) controller.enqueue(new TextEncoder().encode(chunk))
        controller.close()
      },
    })
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })
  }) as unknown as typeof fetch
}

describe('SseClient resume', () => {
  it('reconnects after a drop and resends the last id as Last-Event-ID; refreshes on a 401', async () => {
    const seen: Record<string, string>[] = []
    const got: SseMessage[] = []
    const states: SseState[] = []
    let token = 'old'
    let client: SseClient
    const done = new Promise<void>((resolve) => {
      client = new SseClient({
        url: '/api/v1/dispatch/stream',
        token: () => token,
        refresh: async () => {
          token = 'new'
          return true
        },
        fetchImpl: scriptedFetch(
          [
            [': live\n\n', 'id: 10\nevent: change\ndata: {"n":1}\n\n'],
            401,
            [': live\n\n', 'id: 11\nevent: change\ndata: {"n":2}\n\n'],
            [': live\n\n'],
          ],
          seen,
        ),
        sleep: async () => undefined,
        onState: (s) => states.push(s),
        onMessage: (m) => {
          got.push(m)
          if (got.length === 2) {
            client.stop()
            resolve()
          }
        },
      })
      client.start()
    })
    await done
    expect(got.map((m) => m.data)).toEqual(['{"n":1}', '{"n":2}'])
    expect(seen[0]['Last-Event-ID']).toBeUndefined()
    expect(seen[0].Authorization).toBe('Bearer old')
    expect(seen[1]['Last-Event-ID']).toBe('10')
    expect(seen[2]['Last-Event-ID']).toBe('10')
    expect(seen[2].Authorization).toBe('Bearer new')
    expect(states).toContain('reconnecting')
    expect(states[0]).toBe('connecting')
  })
})
