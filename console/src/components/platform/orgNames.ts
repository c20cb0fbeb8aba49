// Names of the org units directly under the caller's scope (counties, departments, halls),
// for labels such as "410421 宝丰县"; loaded once per session.
import { ref } from 'vue'
import { api, data } from '@/api/client'

const names = ref<Record<string, string>>({})
let loaded: Promise<void> | null = null

export function useOrgNames(root: string | undefined, rootName?: string) {
  if (root && !loaded) {
    loaded = (async () => {
      try {
        const answer = data(await api.GET('/api/v1/org/{id}', { params: { path: { id: root } } }))
        const out: Record<string, string> = { [answer.unit.id]: answer.unit.name }
        for (const child of answer.children) out[child.id] = child.name
        names.value = { ...out, ...names.value }
      } catch {
        loaded = null
      }
    })()
    if (rootName) names.value = { [root]: rootName, ...names.value }
  }
  return names
}

/** Adds names learnt elsewhere (a lazily opened subtree). */
export function rememberNames(more: Record<string, string>) {
  names.value = { ...names.value, ...more }
}
