// A 409 answer to an action: either the event moved on (stale version) or the action is not
// allowed in its status. Either way the console re-reads the event, shows what changed since
// the version the user acted on, and lets them retry on the fresh state.
import type { EventOut } from '../api/types'

export interface ConflictInfo {
  kind: 'stale' | 'illegal'
  currentVersion: number | null
  status: string | null
  allowed: string[]
}

export function conflictOf(detail: any): ConflictInfo {
  const first = Array.isArray(detail) ? detail[0] : detail
  const d = first && typeof first === 'object' ? first : {}
  const allowed = Array.isArray(d.allowed) ? d.allowed : []
  const stale = 'expected_version' in d || (typeof d.msg === 'string' && d.msg.includes('version'))
  return {
    kind: stale && !('allowed' in d) ? 'stale' : 'illegal',
    currentVersion: typeof d.version === 'number' ? d.version : null,
    status: typeof d.status === 'string' ? d.status : null,
    allowed,
  }
}

const WATCHED: (keyof EventOut)[] = [
  'status',
  'level',
  'assignee',
  'due_at',
  'ack_due_at',
  'rework_count',
  'escalation_count',
  'suspended_at',
  'closed_at',
  'voided_at',
]

export interface FieldChange {
  field: keyof EventOut
  before: unknown
  after: unknown
}

/** What differs between the state the user saw and the fresh one. */
export function changedFields(before: EventOut, after: EventOut): FieldChange[] {
  const out: FieldChange[] = []
  for (const f of WATCHED) {
    const a = JSON.stringify(before[f] ?? null)
    const b = JSON.stringify(after[f] ?? null)
    if (a !== b) out.push({ field: f, before: before[f], after: after[f] })
  }
  return out
}

/**
 * Run an action with the event's version; on a 409 re-read the event and report the conflict
 * (the caller shows it and offers a retry, which runs again on the fresh version).
 */
export async function actWithVersion<T>(
  event: EventOut,
  send: (version: number) => Promise<T>,
  reload: () => Promise<EventOut>,
): Promise<{ ok: true; result: T } | { ok: false; conflict: ConflictInfo; fresh: EventOut; changes: FieldChange[] }> {
  try {
    return { ok: true, result: await send(event.version) }
  } catch (err: any) {
    if (err?.status !== 409) throw err
    const fresh = await reload()
    return { ok: false, conflict: conflictOf(err.detail), fresh, changes: changedFields(event, fresh) }
  }
}
