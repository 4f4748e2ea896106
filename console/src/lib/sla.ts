// The SLA state of an event, as the domain defines it (domain/lifecycle/sla.py): two clocks,
// acknowledgement (runs while dispatched) and resolution (runs while dispatched or
// acknowledged). A clock warns from its warning mark (50 % of its allowance, on the category's
// working calendar: the API sends the mark, ack_warn_at / resolve_warn_at) and is breached at
// its deadline; the event's state is the worse of its running clocks, "ok" when none runs.
import type { EventOut, Status } from '../api/types'

export type SlaState = 'ok' | 'warning' | 'breached'

const RUNNING: Partial<Record<Status, ('ack' | 'resolve')[]>> = {
  dispatched: ['ack', 'resolve'],
  acknowledged: ['resolve'],
}
const SEVERITY: SlaState[] = ['ok', 'warning', 'breached']

type Clocked = Pick<EventOut, 'status' | 'ack_due_at' | 'due_at' | 'ack_warn_at' | 'resolve_warn_at'>

function clockState(deadline: string | null, warnAt: string | null | undefined, now: number): SlaState {
  if (!deadline) return 'ok'
  if (now >= Date.parse(deadline)) return 'breached'
  if (warnAt && now >= Date.parse(warnAt)) return 'warning'
  return 'ok'
}

/** The event's SLA state at ``now`` (ms since the epoch). */
export function slaState(event: Clocked, now: number): SlaState {
  const clocks = RUNNING[event.status] ?? []
  let worst = 0
  for (const clock of clocks) {
    const state =
      clock === 'ack'
        ? clockState(event.ack_due_at, event.ack_warn_at, now)
        : clockState(event.due_at, event.resolve_warn_at, now)
    worst = Math.max(worst, SEVERITY.indexOf(state))
  }
  return SEVERITY[worst]
}

/** The worst state of a set of events (a grid's colour). */
export function worstState(states: Iterable<SlaState>): SlaState {
  let worst = 0
  for (const s of states) worst = Math.max(worst, SEVERITY.indexOf(s))
  return SEVERITY[worst]
}

/** A grid's colour from counts (the board's per-grid tallies). */
export function stateOfCounts(c: { open: number; warning: number; breached: number }): SlaState | 'none' {
  if (c.breached > 0) return 'breached'
  if (c.warning > 0) return 'warning'
  return c.open > 0 ? 'ok' : 'none'
}

export const SLA_COLOURS: Record<SlaState | 'none', string> = {
  ok: '#2e7d32',
  warning: '#e69500',
  breached: '#c62828',
  none: '#8a9bb0',
}

/** The deadline that matters now: acknowledgement while it runs and is earlier, else resolution. */
export function nextDeadline(event: Clocked): string | null {
  const clocks = RUNNING[event.status] ?? []
  if (clocks.includes('ack') && event.ack_due_at && (!event.due_at || event.ack_due_at < event.due_at)) {
    return event.ack_due_at
  }
  return clocks.length ? event.due_at : null
}

/** "剩余 12:05" / "超时 3:10": the signed time to a deadline as h:mm:ss or m:ss. */
export function countdown(deadline: string | null, now: number): { overdue: boolean; text: string } | null {
  if (!deadline) return null
  let ms = Date.parse(deadline) - now
  const overdue = ms < 0
  ms = Math.abs(ms)
  const total = Math.floor(ms / 1000)
  const d = Math.floor(total / 86400)
  const h = Math.floor((total % 86400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  const clock = h > 0 || d > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`
  return { overdue, text: d > 0 ? `${d}d ${clock}` : clock }
}
