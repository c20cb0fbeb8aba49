// A parser of `text/event-stream` (the HTML "server-sent events" format), fed chunk by chunk.
// EventSource cannot send the Authorization header, so the console reads `/api/v1/live` with
// `fetch` and a stream reader and parses the lines here. Pure: no I/O, easy to test.

export interface SseEvent {
  /** `event:` field; `message` when absent. */
  event: string
  /** The `data:` lines joined by `\n`. */
  data: string
  /** `id:` field, when given. */
  id?: string
  /** `retry:` field (milliseconds), when given and numeric. */
  retry?: number
}

export interface SseState {
  /** Text after the last complete line (a line cut across chunks). */
  rest: string
  /** Fields of the event being read (not yet ended by a blank line). */
  event: string
  data: string[]
  id?: string
  retry?: number
  /** Whether the first chunk was seen (a leading BOM is dropped once). */
  started: boolean
}

export function sseStart(): SseState {
  return { rest: '', event: '', data: [], started: false }
}

/**
 * Feeds one chunk of text: returns the complete events it ended and the state to feed the next
 * chunk with. Lines end with `\n`, `\r\n` or `\r`; comment lines (`:` first, the heartbeats)
 * are skipped; an event with no `data:` line is not dispatched (as the standard says).
 */
export function sseFeed(state: SseState, chunk: string): { state: SseState; events: SseEvent[] } {
  let text = state.rest + chunk
  let started = state.started
  if (!started && text.length > 0) {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    started = true
  }
  const events: SseEvent[] = []
  let event = state.event
  let data = [...state.data]
  let id = state.id
  let retry = state.retry
  let at = 0
  for (;;) {
    let end = -1
    let next = -1
    for (let i = at; i < text.length; i++) {
      const c = text[i]
      if (c === '\n') { end = i; next = i + 1; break }
      if (c === '\r') {
        // A `\r` at the very end may be the first half of `\r\n`: wait for the next chunk.
        if (i + 1 === text.length) break
        end = i
        next = text[i + 1] === '\n' ? i + 2 : i + 1
        break
      }
    }
    if (end < 0) break
    const line = text.slice(at, end)
    at = next
    if (line === '') {
      if (data.length > 0) {
        const out: SseEvent = { event: event || 'message', data: data.join('\n') }
        if (id !== undefined) out.id = id
        if (retry !== undefined) out.retry = retry
        events.push(out)
      }
      event = ''
      data = []
      continue
    }
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') { if (!value.includes('\0')) id = value }
    else if (field === 'retry') { if (/^\d+$/.test(value)) retry = Number(value) }
  }
  return { state: { rest: text.slice(at), event, data, id, retry, started }, events }
}

/** Every event of a whole stream text (for tests and one-shot use). */
export function parseSse(text: string): SseEvent[] {
  return sseFeed(sseStart(), text).events
}

/** Delay before reconnect attempt `attempt` (0-based): 1 s doubling up to `max`, with ±20 % jitter. */
export function backoff(attempt: number, max = 60_000, random: () => number = Math.random): number {
  const base = Math.min(max, 1000 * 2 ** Math.min(attempt, 16))
  return Math.round(base * (0.8 + 0.4 * random()))
}
