// Shapes of the public API (/api/v1) that the console reads.

export type Role =
  | 'member'
  | 'head'
  | 'community'
  | 'dispatcher'
  | 'department'
  | 'evaluator'
  | 'admin'

export type Status =
  | 'pending_verification'
  | 'registered'
  | 'dispatched'
  | 'acknowledged'
  | 'resolved'
  | 'suspended'
  | 'parked'
  | 'merged'
  | 'closed'
  | 'voided'

export const OPEN_STATUSES: Status[] = [
  'pending_verification',
  'registered',
  'dispatched',
  'acknowledged',
  'resolved',
  'suspended',
  'parked',
]

export interface Me {
  username: string
  staff_id: number
  role: Role
  grid_code: string | null
  community: string | null
  department: string | null
}

export interface StaffRef {
  id: number
  name: string
}

export interface EventOut {
  id: number
  client_id: string
  grid_code: string
  category: string
  status: Status
  level: number
  assignee: StaffRef | null
  assignee_role: string | null
  department: string | null
  description: string
  location: {
    lon: number
    lat: number
    coord: 'wgs84'
    as_sent: { lon: number; lat: number; coord: 'wgs84' | 'gcj02' | 'bd09' }
    accuracy_m: number | null
  }
  snapped: boolean
  distance_m: number
  reporter: StaffRef | null
  occurred_at: string | null
  received_at: string
  created_at: string
  ack_due_at: string | null
  due_at: string | null
  dispatched_at: string | null
  acknowledged_at: string | null
  resolved_at: string | null
  closed_at: string | null
  voided_at: string | null
  suspended_at: string | null
  rework_count: number
  escalation_count: number
  version: number
  ack_allowance_s?: number | null
  resolve_allowance_s?: number | null
  ack_warn_at?: string | null
  resolve_warn_at?: string | null
  clock_fallback?: boolean
  promised_ack_at?: string | null
  promised_due_at?: string | null
  rejection_note?: string | null
  rejected_at?: string | null
  cycle?: number
  pending_request?: PendingRequest | null
  parked_until?: string | null
}

/** A holder's 延期 (extension) or 挂账 (parking) request waiting for the level above. */
export interface PendingRequest {
  kind: 'extension' | 'parking'
  requested_at: string
  reason: string
  deadline: string | null
}

export interface EventPage {
  items: EventOut[]
  next_cursor: string | null
}

export interface HistoryEntry {
  version: number
  action: string
  from_status: string | null
  to_status: string
  from_level: number | null
  to_level: number
  actor: { id: string; name: string | null }
  at: string
  note: string
  reason: string | null
}

export interface Category {
  code: string
  name: string
  ack_minutes: number
  resolve_minutes: number
  big: boolean
  department: string | null
  active: boolean
}

export interface GridStaff {
  id: number
  name: string
  role: 'head' | 'member'
}

export interface GridProps {
  code: string
  name: string
  community: string
  community_code: string
  area_km2: number
  staff: GridStaff[]
}

export interface GridFeature {
  type: 'Feature'
  geometry: { type: 'MultiPolygon' | 'Polygon'; coordinates: any }
  properties: GridProps
}

export interface GridCollection {
  type: 'FeatureCollection'
  features: GridFeature[]
}

export interface Community {
  code: string
  name: string
  grid_count: number
  area_km2: number
  grids: string[]
}

export interface SlaTally {
  total: number
  ok: number
  warning: number
  breached: number
  /** dispatched and held by nobody: waiting in the level's queue (level 2: the command centre's shared queue) */
  queued: number
  by_status: Record<string, number>
}

export interface Board {
  at: string
  open: SlaTally
  levels: (SlaTally & { level: number; name: string })[]
  grids: { code: string; name: string; community: string; open: number; warning: number; breached: number }[]
  communities: { code: string; name: string; open: number; warning: number; breached: number }[]
}

export interface Change {
  audit_id: number
  event_id: number
  version: number
  action: string
  from_status: string | null
  to_status: string
  from_level: number | null
  to_level: number
  actor: string
  reason: string | null
  at: string
}

export interface Photo {
  id: number
  sha256: string
  media_type: string
  size: number
  width: number
  height: number
  stage: 'report' | 'verify' | 'resolve'
  uploaded_by: number | null // null: sent with a public report
  exif: Record<string, any> | null
  url: string
  uploaded_at?: string
}

export interface ConsoleConfig {
  tile_url: string | null
  tile_coord: 'wgs84' | 'gcj02'
  tile_attribution: string
  timezone: string
}
