// The holder's request forms: 延期 (extension: reason + new resolve deadline), 挂账 (parking:
// reason, optional review date) and 回退 (return: reason). What the form checks before sending
// (the API checks everything again), the body it sends, and where the API's 422 detail goes.
import type { EventOut } from '../api/types'
import { localIso } from './time'

export type RequestAction = 'request_extension' | 'request_parking' | 'return'
export const REQUEST_ACTIONS: readonly RequestAction[] = ['request_extension', 'request_parking', 'return']

export function isRequest(action: string): action is RequestAction {
  return (REQUEST_ACTIONS as readonly string[]).includes(action)
}

/** What the holder typed: the reason, the new deadline (datetime-local, in the service's zone)
 * and the review date (YYYY-MM-DD). */
export interface RequestFields {
  note: string
  deadline: string
  reviewOn: string
}

export type RequestField = 'note' | 'deadline' | 'review_on'
/** i18n keys of the problems, by field; '' holds a problem of the whole form. */
export type Problems = Partial<Record<RequestField | '', string>>

/** The resolve deadline an extension must go beyond (the later of due_at and the promise; the
 * domain's current_resolve_deadline). */
export function currentDeadline(e: EventOut): string | null {
  const found = [e.due_at, e.promised_due_at].filter((d): d is string => !!d)
  if (!found.length) return null
  return found.reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b))
}

/** The problems the form can see before sending, as i18n keys by field (empty: send it). */
export function problems(action: RequestAction, f: RequestFields, e: EventOut, now: number, today: string): Problems {
  const out: Problems = {}
  if (!f.note.trim()) out.note = 'reason_required'
  if (action === 'request_extension') {
    const iso = localIso(f.deadline)
    const floor = Math.max(now, Date.parse(currentDeadline(e) ?? '') || 0)
    if (!f.deadline) out.deadline = 'deadline_required'
    else if (!iso) out.deadline = 'deadline_invalid'
    else if (Date.parse(iso) <= floor) out.deadline = 'deadline_not_later'
  }
  if (action === 'request_parking' && f.reviewOn && f.reviewOn <= today) out.review_on = 'review_on_not_later'
  return out
}

/** The body of the request (the API's ExtensionIn / ParkingIn / ActionIn). */
export function requestBody(action: RequestAction, f: RequestFields, version: number): Record<string, unknown> {
  const body: Record<string, unknown> = { version, note: f.note.trim() }
  if (action === 'request_extension') body.deadline = localIso(f.deadline)
  if (action === 'request_parking' && f.reviewOn) body.review_on = f.reviewOn
  return body
}

/** The API's 422 detail as messages by form field: a ``loc`` ending in note, deadline or
 * review_on goes to that field (a parking's date is checked by the core as its ``deadline``);
 * anything else to the whole form. */
export function fieldErrors(action: RequestAction, detail: unknown): Partial<Record<RequestField | '', string>> {
  const out: Partial<Record<RequestField | '', string>> = {}
  const items = Array.isArray(detail) ? detail : [detail]
  for (const d of items) {
    const msg = typeof d?.msg === 'string' ? d.msg : typeof d === 'string' ? d : JSON.stringify(d)
    const loc: unknown[] = Array.isArray(d?.loc) ? d.loc : []
    let field: RequestField | '' = ''
    const last = loc[loc.length - 1]
    if (last === 'note') field = 'note'
    else if (last === 'review_on' || (last === 'deadline' && action === 'request_parking')) field = 'review_on'
    else if (last === 'deadline') field = 'deadline'
    out[field] = out[field] ? `${out[field]}; ${msg}` : msg
  }
  return out
}
