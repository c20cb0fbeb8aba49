import { describe, expect, it } from 'vitest'
import { backoff, parseSse, sseFeed, sseStart } from './sse'

describe('sse parser', () => {
  it('reads named events and joins data lines', () => {
    const events = parseSse('event: stats\ndata: {"a":1}\n\nevent: stats\ndata: line1\ndata: line2\nid: 7\n\n')
    expect(events).toEqual([
      { event: 'stats', data: '{"a":1}' },
      { event: 'stats', data: 'line1\nline2', id: '7' },
    ])
  })

  it('skips heartbeat comments and events without data', () => {
    expect(parseSse(':\n\n: keep-alive\n\nevent: stats\n\n')).toEqual([])
  })

  it('defaults the event name to message and strips one leading space only', () => {
    expect(parseSse('data:  two spaces\n\n')).toEqual([{ event: 'message', data: ' two spaces' }])
  })

  it('keeps state across chunks cut anywhere, CRLF included', () => {
    const whole = 'event: stats\r\ndata: {"x":"é"}\r\n\r\n:\r\n\r\nevent: stats\r\ndata: 2\r\n\r\n'
    for (let cut = 0; cut <= whole.length; cut++) {
      let state = sseStart()
      const first = sseFeed(state, whole.slice(0, cut))
      state = first.state
      const second = sseFeed(state, whole.slice(cut))
      const events = [...first.events, ...second.events]
      expect(events.map((e) => e.data)).toEqual(['{"x":"é"}', '2'])
    }
  })

  it('does not dispatch an event until the blank line arrives', () => {
    const a = sseFeed(sseStart(), 'event: stats\ndata: 1\n')
    expect(a.events).toEqual([])
    const b = sseFeed(a.state, '\n')
    expect(b.events).toEqual([{ event: 'stats', data: '1' }])
  })

  it('reads retry and drops a leading BOM', () => {
    expect(parseSse('\ufeffretry: 3000\ndata: x\n\n')).toEqual([{ event: 'message', data: 'x', retry: 3000 }])
  })

  it('treats a field without colon as an empty value', () => {
    expect(parseSse('data\n\n')).toEqual([{ event: 'message', data: '' }])
  })
})

describe('backoff', () => {
  it('doubles from one second up to the cap', () => {
    const mid = () => 0.5
    expect(backoff(0, 60_000, mid)).toBe(1000)
    expect(backoff(1, 60_000, mid)).toBe(2000)
    expect(backoff(3, 60_000, mid)).toBe(8000)
    expect(backoff(20, 60_000, mid)).toBe(60_000)
  })
  it('jitters within ±20 %', () => {
    expect(backoff(0, 60_000, () => 0)).toBe(800)
    expect(backoff(0, 60_000, () => 1)).toBe(1200)
  })
})
