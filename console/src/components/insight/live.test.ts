import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick } from 'vue'

const get = vi.fn()
vi.mock('@/api/client', () => ({
  api: { GET: (...args: unknown[]) => get(...args) },
  data: (r: { data?: unknown }) => r.data,
  describe: (e: unknown) => String(e),
  sessionToken: () => 'tok',
}))

import { useLiveStats } from './live'

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c))
      // left open: the live stream does not end
    },
  })
}

const flush = async () => {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve()
    await nextTick()
  }
}

describe('useLiveStats', () => {
  beforeEach(() => {
    get.mockReset()
  })
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('takes the stats events of the stream, with the bearer token', async () => {
    const fetchMock = vi.fn(async () =>
      new Response(streamOf([':\n\n', 'event: stats\ndata: {"unit":"410400","metrics":{"ratings":3}}\n\n']), {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
      }),
    )
    vi.stubGlobal('fetch', fetchMock)
    const scope = effectScope()
    const live = scope.run(() => useLiveStats(() => ({ dim: 'region', unit: '410400' })))!
    await flush()
    await new Promise((r) => setTimeout(r, 20))
    await flush()
    expect(fetchMock).toHaveBeenCalledWith('/api/v1/live?unit=410400', expect.objectContaining({
      headers: expect.objectContaining({ authorization: 'Bearer tok' }),
    }))
    expect(live.live.value).toBe(true)
    expect((live.stats.value as unknown as { metrics: { ratings: number } }).metrics.ratings).toBe(3)
    expect(get).not.toHaveBeenCalled()
    scope.stop()
  })

  it('polls /api/v1/stats for today when the stream is not offered', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"error":{}}', { status: 404 })))
    get.mockResolvedValue({ data: { unit: '410421', metrics: { ratings: 7 } } })
    const scope = effectScope()
    const live = scope.run(() => useLiveStats(() => ({ dim: 'region', unit: '410421' })))!
    await flush()
    await new Promise((r) => setTimeout(r, 20))
    await flush()
    expect(live.live.value).toBe(false)
    expect(live.polling.value).toBe(true)
    expect(get).toHaveBeenCalledWith('/api/v1/stats', expect.objectContaining({
      params: { query: expect.objectContaining({ dim: 'region', unit: '410421' }) },
    }))
    expect((live.stats.value as unknown as { metrics: { ratings: number } }).metrics.ratings).toBe(7)
    scope.stop()
  })

  it('never opens the stream when it may not', async () => {
    const fetchMock = vi.fn()
    vi.stubGlobal('fetch', fetchMock)
    get.mockResolvedValue({ data: { unit: 'H1', metrics: { ratings: 1 } } })
    const scope = effectScope()
    scope.run(() => useLiveStats(() => ({ dim: 'hall', unit: 'H1' }), () => true, () => false))
    await flush()
    expect(fetchMock).not.toHaveBeenCalled()
    expect(get).toHaveBeenCalled()
    scope.stop()
  })
})
