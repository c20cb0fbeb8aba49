// The caller's own unit as the statistics see it: window staff are measured on their staff id;
// everyone else on their scope, whose kind (`GET /api/v1/org/{id}`) gives the dimension.
import { ref } from 'vue'
import { api, data } from '@/api/client'
import { useSession } from '@/stores/session'
import { chinaToday } from '@/utils/format'
import { addDays, dimOfKind, type Target } from './metrics'

export interface UnitInfo {
  id: string
  name: string
  kind: string
  parent?: string | null
}

const cache = new Map<string, Promise<UnitInfo | null>>()

/** An org unit's name, kind and parent (cached for the session of the page). */
export function unitInfo(id: string): Promise<UnitInfo | null> {
  let hit = cache.get(id)
  if (!hit) {
    hit = api
      .GET('/api/v1/org/{id}', { params: { path: { id } } })
      .then((answer) => {
        const unit = data(answer).unit
        return { id: unit.id, name: unit.name, kind: unit.kind, parent: unit.parent ?? null }
      })
      .catch(() => {
        cache.delete(id)
        return null
      })
    cache.set(id, hit)
  }
  return hit
}

/** Whether the caller sees results up to yesterday only (window staff; the server enforces it). */
export function upToYesterday(): boolean {
  const session = useSession()
  return session.me?.role === 'window_staff'
}

/** The last day the caller may see: today, or yesterday for window staff. */
export function lastVisibleDay(): string {
  const today = chinaToday()
  return upToYesterday() ? addDays(today, -1) : today
}

/** The caller's own target and the kind of their scope, resolved once. */
export function useCallerTarget() {
  const session = useSession()
  const target = ref<Target | null>(null)
  const kind = ref<string>('')
  const name = ref<string>(session.me?.scope_name ?? '')
  const ready = (async () => {
    const me = session.me
    if (!me) return
    if (me.role === 'window_staff' && me.staff_id) {
      target.value = { dim: 'staff', unit: me.staff_id }
      kind.value = 'staff'
      return
    }
    const info = await unitInfo(me.scope)
    kind.value = info?.kind ?? 'city'
    target.value = { dim: dimOfKind(info?.kind), unit: me.scope }
  })()
  return { target, kind, name, ready }
}
