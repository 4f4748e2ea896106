// Server-Sent Events over fetch: EventSource cannot send the Authorization header, so the
// stream is read from a fetch body. On a drop it reconnects with backoff and sends the last
// id it saw as Last-Event-ID (the API replays what was missed from the audit log); a 401
// refreshes the token first.

export interface SseMessage {
  id: string | null
  event: string
  data: string
}

/** Incremental parser of the text/event-stream format (WHATWG HTML §9.2.6). */
export class SseParser {
  private buffer = ''
  private data: string[] = []
  private event = ''
  private id: string | null = null
  lastEventId: string | null = null

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk
    const out: SseMessage[] = []
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer)
      if (!m) break
      // a lone \r at the end of a chunk may be the first half of \r\n: wait for more
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break
      const line = this.buffer.slice(0, m.index)
      this.buffer = this.buffer.slice(m.index + m[0].length)
      if (line === '') {
        if (this.data.length) {
          if (this.id !== null) this.lastEventId = this.id
          out.push({ id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') })
        } else if (this.id !== null) {
          this.lastEventId = this.id
        }
        this.data = []
        this.event = ''
        this.id = null
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'data') this.data.push(value)
      else if (field === 'event') this.event = value
      else if (field === 'id' && !value.includes('\0')) this.id = value
    }
    return out
  }
}

export type SseState = 'connecting' | 'live' | 'reconnecting' | 'closed'

export interface SseOptions {
  url: string
  token: () => string | null
  refresh: () => Promise<boolean>
  onMessage: (msg: SseMessage) => void
  onState?: (state: SseState) => void
  /** Called after every (re)connection is live: the caller re-reads what a gap might hide. */
  onLive?: (resumed: boolean) => void
  fetchImpl?: typeof fetch
  backoffMs?: number[]
  /** No byte for this long (the server sends a keep-alive every 15 s): reconnect. */
  idleMs?: number
  sleep?: (ms: number) => Promise<void>
}

export class SseClient {
  lastEventId: string | null = null
  state: SseState = 'closed'
  attempts = 0
  private stopped = true
  private controller: AbortController | null = null

  constructor(private opts: SseOptions) {}

  private setState(s: SseState) {
    this.state = s
    this.opts.onState?.(s)
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    void this.loop()
  }

  stop(): void {
    this.stopped = true
    this.controller?.abort()
    this.setState('closed')
  }

  /** Drop the connection (as a network fault would); the loop reconnects. */
  drop(): void {
    this.controller?.abort()
  }

  private async loop(): Promise<void> {
    const fetchImpl = this.opts.fetchImpl ?? fetch.bind(globalThis)
    const backoff = this.opts.backoffMs ?? [250, 500, 1000, 2000, 4000]
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
    let failures = 0
    let everLive = false
    while (!this.stopped) {
      this.setState(everLive ? 'reconnecting' : 'connecting')
      this.controller = new AbortController()
      const controller = this.controller
      let idle: ReturnType<typeof setTimeout> | undefined
      const arm = () => {
        clearTimeout(idle)
        idle = setTimeout(() => controller.abort(), this.opts.idleMs ?? 35000)
      }
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream' }
        const token = this.opts.token()
        if (token) headers.Authorization = `Bearer ${token}`
        if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId
        this.attempts++
        arm()
        const resp = await fetchImpl(this.opts.url, { headers, signal: controller.signal, cache: 'no-store' })
        if (resp.status === 401) {
          clearTimeout(idle)
          if (!(await this.opts.refresh())) {
            this.stopped = true
            this.setState('closed')
            return
          }
          continue
        }
        if (!resp.ok || !resp.body) throw new Error(`stream answered ${resp.status}`)
        const parser = new SseParser()
        parser.lastEventId = this.lastEventId
        const reader = resp.body.getReader()
        const decoder = new TextDecoder()
        const resumed = everLive
        let announced = false
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          arm()
          const text = decoder.decode(value, { stream: true })
          if (!announced) {
            announced = true
            failures = 0
            everLive = true
            this.setState('live')
            this.opts.onLive?.(resumed)
          }
          for (const msg of parser.feed(text)) {
            if (msg.id) this.lastEventId = msg.id
            this.opts.onMessage(msg)
          }
        }
      } catch {
        // network error or abort: fall through to reconnect
      } finally {
        clearTimeout(idle)
      }
      if (this.stopped) break
      this.setState(everLive ? 'reconnecting' : 'connecting')
      await sleep(backoff[Math.min(failures, backoff.length - 1)])
      failures++
    }
  }
}
