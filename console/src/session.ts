// Who is signed in, and what they may open.
import { ref } from 'vue'
import { hasRefreshToken, refresh, request, signIn, signOut } from './api/http'
import type { Me, Role } from './api/types'

export const me = ref<Me | null>(null)
export const expiredNotice = ref(false)

/** Roles whose jurisdiction is everywhere: they may watch the board and the change stream. */
export const WATCHERS: Role[] = ['dispatcher', 'evaluator', 'admin']
export const STATS_READERS: Role[] = ['evaluator', 'dispatcher', 'admin']

export type Screen = 'map' | 'board' | 'events' | 'evaluation'

export function screensFor(role: Role | undefined): Screen[] {
  if (!role || role === 'member') return []
  const screens: Screen[] = ['map']
  if (WATCHERS.includes(role)) screens.push('board')
  screens.push('events')
  if (STATS_READERS.includes(role)) screens.push('evaluation')
  return screens
}

export function homeFor(role: Role | undefined): string {
  if (role === 'member') return '/member'
  if (role === 'evaluator') return '/evaluation'
  return '/map'
}

export async function loadMe(): Promise<Me | null> {
  if (me.value) return me.value
  if (!hasRefreshToken()) return null
  if (!(await refresh())) return null
  me.value = await request<Me>('/auth/me')
  return me.value
}

export async function login(username: string, password: string): Promise<Me> {
  await signIn(username, password)
  expiredNotice.value = false
  me.value = await request<Me>('/auth/me')
  return me.value
}

export async function logout(): Promise<void> {
  try {
    await signOut()
  } finally {
    me.value = null
  }
}
