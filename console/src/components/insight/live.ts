// Today's figures of a unit, kept current: the `/api/v1/live?unit=` event stream (read with
// fetch, since EventSource cannot send the Authorization header), reconnecting with backoff;
// when the stream is not offered (404/403/…) a poll of `GET /api/v1/stats` every 30 s.
import { onScopeDispose, ref, shallowRef, watch } from 'vue'
import { api, data, describe, sessionToken, type Schemas } from '@/api/client'
import { chinaToday } from '@/utils/format'
import { backoff, sseFeed, sseStart } from './sse'
import type { Target } from './metrics'

export type StatsView = Schemas['StatsView']

const POLL_MS = 30_000
/** Heartbeats come every 15 s: silence this long means the stream is dead. */
const SILENCE_MS = 45_000

export function useLiveStats(
  target: () => Target | null,
  enabled: () => boolean = () => true,
  /** Whether the caller may use the stream (`live`); otherwise poll from the start. */
  streamAllowed: () => boolean = () => true,
) {
  const stats = shallowRef<StatsView | null>(null)
  /** The stream is connected (the "实时" badge). */
  const live = ref(false)
  /** Figures come from polling (no stream). */
  const polling = ref(false)
  const error = ref('')
  const updatedAt = ref<Date | null>(null)

  let generation = 0
  let controller: AbortController | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  let watchdog: ReturnType<typeof setTimeout> | null = null

  function clear() {
    generation++
    controller?.abort()
    controller = null
    if (timer) clearTimeout(timer)
    if (watchdog) clearTimeout(watchdog)
    timer = null
    watchdog = null
    live.value = false
    polling.value = false
  }

  async function pollOnce(t: Target, gen: number) {
    const today = chinaToday()
    try {
      const answer = data(
        await api.GET('/api/v1/stats', { params: { query: { dim: t.dim, unit: t.unit, from: today, to: today } } }),
      )
      if (gen !== generation) return
      stats.value = answer
      updatedAt.value = new Date()
      error.value = ''
    } catch (failure) {
      if (gen === generation) error.value = describe(failure)
    }
  }

  function poll(t: Target, gen: number) {
    polling.value = true
    const tick = async () => {
      if (gen !== generation) return
      await pollOnce(t, gen)
      if (gen === generation) timer = setTimeout(tick, POLL_MS)
    }
    tick()
  }

  async function stream(t: Target, gen: number, attempt: number) {
    const abort = new AbortController()
    controller = abort
    const arm = () => {
      if (watchdog) clearTimeout(watchdog)
      watchdog = setTimeout(() => abort.abort(), SILENCE_MS)
    }
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' }
      const token = sessionToken()
      if (token) headers.authorization = `Bearer ${token}`
      const response = await fetch(`/api/v1/live?unit=${encodeURIComponent(t.unit)}`, { headers, signal: abort.signal })
      if (gen !== generation) return
      if (!response.ok || !response.body) {
        abort.abort()
        // Not offered to this caller or not (yet) on this server: poll instead, for good.
        if ([400, 401, 403, 404, 405, 501].includes(response.status)) return poll(t, gen)
        throw new Error(`HTTP ${response.status}`)
      }
      arm()
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let state = sseStart()
      for (;;) {
        const { value, done } = await reader.read()
        if (gen !== generation) return
        if (done) break
        arm()
        const fed = sseFeed(state, value)
        state = fed.state
        for (const event of fed.events) {
          if (event.event !== 'stats') continue
          try {
            stats.value = JSON.parse(event.data) as StatsView
            updatedAt.value = new Date()
            live.value = true
            error.value = ''
            attempt = 0
          } catch {
            // A malformed event: skip it, the next one carries the whole view again.
          }
        }
      }
    } catch {
      if (gen !== generation) return
    }
    if (watchdog) clearTimeout(watchdog)
    live.value = false
    // Keep the figures fresh while reconnecting.
    await pollOnce(t, gen)
    if (gen !== generation) return
    timer = setTimeout(() => stream(t, gen, attempt + 1), backoff(attempt))
  }

  function start() {
    clear()
    const t = target()
    if (!t || !enabled()) return
    const gen = generation
    if (streamAllowed()) stream(t, gen, 0)
    else poll(t, gen)
  }

  watch(() => [target()?.dim, target()?.unit, enabled(), streamAllowed()], start, { immediate: true })
  onScopeDispose(clear)

  return { stats, live, polling, error, updatedAt, restart: start }
}
