// Which actions the signed-in person may take on an event in its status: the transition
// table (domain/lifecycle/transitions.py) crossed with who may act (dispatch/lifecycle/
// actions.py authorize). The API checks both again; this only decides which buttons exist.
import type { EventOut, Me, Status } from '../api/types'

export type ActionName =
  | 'dispatch'
  | 'acknowledge'
  | 'claim'
  | 'escalate'
  | 'review'
  | 'suspend'
  | 'resume'
  | 'void'
  | 'approve_extension'
  | 'refuse_extension'
  | 'approve_parking'
  | 'refuse_parking'
  | 'unpark'
  | 'reopen'
  | 'request_extension'
  | 'request_parking'
  | 'return'

// While the event is dispatched or acknowledged its holder may ask the level above for more
// time (延期) or to park it (挂账), or send it back as not theirs (回退: lib/requests.ts has the
// forms), and the level above decides a pending request.
const REQUESTS: ActionName[] = ['request_extension', 'request_parking', 'return']
const DECISIONS: ActionName[] = ['approve_extension', 'refuse_extension', 'approve_parking', 'refuse_parking']
const BY_STATUS: Partial<Record<Status, ActionName[]>> = {
  pending_verification: ['void'],
  registered: ['dispatch', 'void'],
  dispatched: ['dispatch', 'claim', 'acknowledge', 'escalate', 'suspend', 'void', ...REQUESTS, ...DECISIONS],
  acknowledged: ['dispatch', 'escalate', 'suspend', 'void', ...REQUESTS, ...DECISIONS],
  resolved: ['review'],
  suspended: ['resume', 'void'],
  parked: ['unpark', 'void'],
  closed: ['reopen'],
}
/** Whose superior decides a holder's request (domain/roles.py SUPERIOR). */
const SUPERIOR: Partial<Record<string, Me['role']>> = {
  member: 'head',
  head: 'community',
  community: 'dispatcher',
  dispatcher: 'dispatcher',
  department: 'dispatcher',
}

/** The holder's superior (where the event is: the API checks the place) or the command centre;
 * never the holder. */
function decides(me: Me, e: EventOut): boolean {
  if (!e.assignee || e.assignee.id === me.staff_id) return false
  if (me.role === 'dispatcher') return true
  if (SUPERIOR[e.assignee_role ?? ''] !== me.role) return false
  return me.role !== 'head' || me.grid_code === e.grid_code
}
export const MAX_LEVEL = 3
const COMMAND_CENTRE_LEVEL = 2
const ROLE_LEVEL: Partial<Record<Me['role'], number>> = {
  member: 0,
  head: 0,
  community: 1,
  dispatcher: 2,
  department: 3,
}

/** Whether the person handles the event: its assignee, or (queued, nobody assigned) staff of
 * the event's level and place. */
function handles(me: Me, e: EventOut): boolean {
  if (e.assignee) return e.assignee.id === me.staff_id
  if (ROLE_LEVEL[me.role] !== e.level) return false
  if (me.role === 'head' || me.role === 'member') return me.grid_code === e.grid_code
  if (me.role === 'department') return !e.department || e.department === me.department
  return true // community staff are narrowed by the API to their community (a 403 otherwise)
}

export function allowedActions(me: Me, e: EventOut): ActionName[] {
  const possible = BY_STATUS[e.status] ?? []
  return possible.filter((action) => {
    switch (action) {
      case 'dispatch':
      case 'suspend':
      case 'resume':
      case 'reopen':
        return me.role === 'dispatcher'
      case 'approve_extension':
      case 'refuse_extension':
        return e.pending_request?.kind === 'extension' && decides(me, e)
      case 'approve_parking':
      case 'refuse_parking':
        return e.pending_request?.kind === 'parking' && decides(me, e)
      case 'unpark':
        return decides(me, e)
      case 'request_extension':
      case 'request_parking': // the holder, one request at a time
        return !!e.assignee && e.assignee.id === me.staff_id && !e.pending_request
      case 'return': // not with the command centre already (it goes back there)
        return handles(me, e) && e.level !== COMMAND_CENTRE_LEVEL
      case 'claim': // a queued event (the command centre's shared queue): take it first
        return !e.assignee && handles(me, e)
      case 'acknowledge':
        return handles(me, e)
      case 'escalate':
        return handles(me, e) && e.level < MAX_LEVEL
      case 'review':
        if (e.assignee_role === 'member') return me.role === 'head' && me.grid_code === e.grid_code
        return me.role === 'dispatcher'
      case 'void':
        if (me.role === 'dispatcher') return true
        return (
          me.role === 'head' &&
          me.grid_code === e.grid_code &&
          (e.status === 'registered' || e.status === 'pending_verification')
        )
    }
    return false
  })
}

/** Actions whose note is required (a rejected review) or strongly expected (the reason). */
export function needsNote(action: ActionName, approved?: boolean): boolean {
  if (action === 'review') return approved === false
  return (
    action === 'suspend' ||
    action === 'resume' ||
    action === 'void' ||
    action === 'reopen' ||
    action === 'refuse_extension' ||
    action === 'refuse_parking' ||
    action === 'request_extension' ||
    action === 'request_parking' ||
    action === 'return'
  )
}
