// Names of org units (departments, windows, staff, regions) by id, fetched once each from
// `GET /api/v1/org/{id}` and shared by every screen of the loop; an id that cannot be read
// (out of scope, unknown) shows as itself.
import { reactive } from 'vue'
import { api, data } from '@/api/client'

const names = reactive(new Map<string, string>())
const pending = new Set<string>()

/** The name of `id` if known (asking for it otherwise), else the id itself. */
export function unitName(id?: string | null): string {
  if (!id) return '—'
  const known = names.get(id)
  if (known !== undefined) return known
  if (!pending.has(id)) {
    pending.add(id)
    api
      .GET('/api/v1/org/{id}', { params: { path: { id } } })
      .then((answer) => names.set(id, data(answer).unit.name || id))
      .catch(() => names.set(id, id))
  }
  return id
}

/** Remember names a list already carried (e.g. a proposal's `names`). */
export function rememberNames(known: Record<string, string>) {
  for (const [id, name] of Object.entries(known)) names.set(id, name)
}
