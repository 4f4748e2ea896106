// Live state shared by the screens: the open events (for the map and its colours), the board,
// one change stream (SSE) for those who may watch it, and a one-second clock for countdowns.
import { ref, shallowRef, triggerRef } from 'vue'
import { accessTokenNow, API, refresh, request } from './api/http'
import { SseClient, type SseState } from './api/sse'
import type { Board, Change, EventOut, EventPage } from './api/types'
import { OPEN_STATUSES } from './api/types'
import { me, WATCHERS } from './session'

export const now = ref(Date.now())
export const openEvents = shallowRef<Map<number, EventOut>>(new Map())
export const board = shallowRef<Board | null>(null)
export const connection = ref<SseState>('closed')
export const eventsLoaded = ref(false)

type Listener = (change: Change) => void
const listeners = new Set<Listener>()
export function onChange(fn: Listener): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

let client: SseClient | null = null
let ticker: ReturnType<typeof setInterval> | null = null
let poller: ReturnType<typeof setInterval> | null = null
let boardTimer: ReturnType<typeof setTimeout> | null = null
const pendingIds = new Set<number>()
let eventTimer: ReturnType<typeof setTimeout> | null = null

export function canWatch(): boolean {
  return !!me.value && WATCHERS.includes(me.value.role)
}

export async function loadBoard(): Promise<void> {
  if (!canWatch()) return
  board.value = await request<Board>('/dispatch/board')
}

function scheduleBoard() {
  if (boardTimer) return
  boardTimer = setTimeout(() => {
    boardTimer = null
    loadBoard().catch(() => undefined)
  }, 60)
}

let loadingEvents: Promise<void> | null = null

/** Every open event the caller may see, in pages of 200 (one chain per status, in parallel);
 * callers arriving while a load runs share it. */
export function loadOpenEvents(): Promise<void> {
  if (!loadingEvents) {
    loadingEvents = readOpenEvents().finally(() => {
      loadingEvents = null
    })
  }
  return loadingEvents
}

async function readOpenEvents(): Promise<void> {
  const all = new Map<number, EventOut>()
  await Promise.all(
    OPEN_STATUSES.map(async (status) => {
      let cursor: string | null = null
      do {
        const page: EventPage = await request<EventPage>('/events', {
          query: { status, limit: 200, cursor },
        })
        for (const e of page.items) all.set(e.id, e)
        cursor = page.next_cursor
      } while (cursor)
    }),
  )
  openEvents.value = all
  eventsLoaded.value = true
}

export function putEvent(e: EventOut) {
  const map = openEvents.value
  if (OPEN_STATUSES.includes(e.status)) map.set(e.id, e)
  else map.delete(e.id)
  triggerRef(openEvents)
}

/** Above this many changed events at once (a burst of timers, a replay after a gap) one
 * reload of every open event is cheaper than one request per event. */
const BURST = 40

async function refetchEvents() {
  const ids = [...pendingIds]
  pendingIds.clear()
  if (ids.length > BURST) {
    await loadOpenEvents().catch(() => undefined)
    return
  }
  await Promise.all(
    ids.map(async (id) => {
      try {
        putEvent(await request<EventOut>(`/events/${id}`))
      } catch (e: any) {
        if (e?.status === 404) {
          openEvents.value.delete(id)
          triggerRef(openEvents)
        }
      }
    }),
  )
}

function scheduleEvent(id: number) {
  pendingIds.add(id)
  if (eventTimer) return
  eventTimer = setTimeout(() => {
    eventTimer = null
    void refetchEvents()
  }, 30)
}

function handle(change: Change) {
  scheduleBoard()
  scheduleEvent(change.event_id)
  for (const fn of listeners) fn(change)
}

export function startLive(): void {
  if (!ticker) ticker = setInterval(() => (now.value = Date.now()), 1000)
  if (canWatch()) {
    if (client) return
    client = new SseClient({
      url: `${API}/dispatch/stream`,
      token: accessTokenNow,
      refresh,
      onState: (s) => (connection.value = s),
      onLive: (resumed) => {
        // after a gap the replay brings each missed change; the board is re-read regardless
        if (resumed) scheduleBoard()
      },
      onMessage: (msg) => {
        if (msg.event !== 'change') return
        try {
          handle(JSON.parse(msg.data) as Change)
        } catch {
          /* a malformed message is skipped */
        }
      },
    })
    client.start()
  } else if (!poller) {
    // Grid and community staff have no change stream (it carries every change): their map
    // and lists are re-read every 30 s instead.
    poller = setInterval(() => {
      if (eventsLoaded.value) loadOpenEvents().catch(() => undefined)
    }, 30000)
  }
}

export function stopLive(): void {
  client?.stop()
  client = null
  if (ticker) clearInterval(ticker)
  if (poller) clearInterval(poller)
  ticker = poller = null
  openEvents.value = new Map()
  board.value = null
  eventsLoaded.value = false
}

/** For tests and the bench: drop the stream as a network fault would. */
export function dropStream(): void {
  client?.drop()
}
