// Shared pure helpers of the insight screens: periods in China days, the dimension of an org
// unit, and the console links behind every number (the drill-down).
import type { RouteLocationRaw } from 'vue-router'

export type Dim = 'region' | 'hall' | 'department' | 'window' | 'staff' | 'item'

/** What a set of figures is about: a unit along a dimension, over China days `from`..`to`. */
export interface Target {
  dim: Dim
  unit: string
}

export interface Period {
  from: string
  to: string
}

/** `YYYY-MM-DD` plus `days` (negative: before), calendar arithmetic on the date alone. */
export function addDays(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number)
  const date = new Date(Date.UTC(y, m - 1, d + days))
  return date.toISOString().slice(0, 10)
}

/** First day of the month of `day`. */
export function monthStart(day: string): string {
  return `${day.slice(0, 7)}-01`
}

/** Last day of the month `YYYY-MM`. */
export function monthEnd(month: string): string {
  const [y, m] = month.split('-').map(Number)
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10)
}

/** The month `YYYY-MM` as a period, cut at `last` (today, or yesterday for window staff). */
export function monthPeriod(month: string, last: string): Period {
  const from = `${month}-01`
  const end = monthEnd(month)
  return { from, to: end < last ? end : last }
}

/** The `YYYY-MM` of the month before. */
export function previousMonth(month: string): string {
  return addDays(`${month}-01`, -1).slice(0, 7)
}

/**
 * "This month" as of `last` (the last day the caller may see): from the first of the month of
 * `last` to `last`. On the 1st, window staff (who see up to yesterday) get last month.
 */
export function thisMonth(last: string): Period {
  return { from: monthStart(last), to: last }
}

/** The `days` days ending on `last`, inclusive. */
export function lastDays(last: string, days: number): Period {
  return { from: addDays(last, -(days - 1)), to: last }
}

/** The statistical dimension of an org unit kind (`GET /api/v1/org/{id}`). */
export function dimOfKind(kind: string | undefined | null): Dim {
  switch (kind) {
    case 'hall':
    case 'service_point':
      return 'hall'
    case 'department':
      return 'department'
    case 'window':
      return 'window'
    default:
      return 'region'
  }
}

/** Which children a unit's comparison table lists by default (`stats/children?of=`). */
export function childrenOf(dim: Dim, kind?: string | null): Dim | null {
  if (dim === 'region') return kind === 'township' || kind === 'village' ? 'hall' : 'region'
  if (dim === 'hall') return 'window'
  return null
}

/** A rate value of the API (decimal string or null) as a number, null when undefined. */
export function rateNumber(value?: string | number | null): number | null {
  if (value === null || value === undefined || value === '') return null
  const n = Number(value)
  return Number.isFinite(n) ? n : null
}

function queryOf(search: string): Record<string, string> {
  const out: Record<string, string> = {}
  new URLSearchParams(search).forEach((value, key) => {
    out[key] = value
  })
  return out
}

/**
 * The console screen behind an API drill-down link (`drill_down`, `ratings_url`, …):
 * ratings → 评价明细, orders → 差评工单 with the same filters, attribution → 统计分析.
 * `null` when the console has no screen for it.
 */
export function drillLink(apiUrl?: string | null): RouteLocationRaw | null {
  if (!apiUrl) return null
  const [path, search = ''] = apiUrl.split('?')
  const query = queryOf(search)
  if (path === '/api/v1/ratings') return { path: '/analysis/ratings', query }
  if (path === '/api/v1/orders') return { path: '/orders', query }
  if (path === '/api/v1/analysis/attribution' || path === '/api/v1/stats') {
    return { path: '/analysis', query }
  }
  return null
}

/** Filters of `GET /api/v1/ratings` a link may carry. */
export interface RatingFilter {
  level?: string
  channel?: string
  bad_only?: boolean
  real_name_only?: boolean
}

/** The ratings of a unit and period, optionally filtered: the 评价明细 screen. */
export function ratingsLink(target: Target, period: Period, filter: RatingFilter = {}): RouteLocationRaw {
  const query: Record<string, string> = { dim: target.dim, unit: target.unit, from: period.from, to: period.to }
  if (filter.level) query.level = filter.level
  if (filter.channel) query.channel = filter.channel
  if (filter.bad_only) query.bad_only = 'true'
  if (filter.real_name_only) query.real_name_only = 'true'
  return { path: '/analysis/ratings', query }
}

/** The bad-review work orders filed under a unit whose 差评 came in the period. */
export function ordersLink(
  target: Target,
  period: Period,
  extra: { overdue?: boolean; real_name?: boolean; open?: boolean } = {},
): RouteLocationRaw {
  const query: Record<string, string> = {
    kind: 'bad_review',
    filed_dim: target.dim,
    filed_unit: target.unit,
    received_from: period.from,
    received_to: period.to,
  }
  if (extra.overdue) query.overdue = 'true'
  if (extra.real_name) query.real_name = 'true'
  if (extra.open) query.open = 'true'
  return { path: '/orders', query }
}

/** Integers with thousands separators (`12,345`). */
export function count(value?: number | null): string {
  if (value === null || value === undefined) return '—'
  return value.toLocaleString('zh-CN')
}

/** A rate in [0,1] as a percentage with `places` decimals, `—` when undefined. */
export function pct(value?: string | number | null, places = 1): string {
  const n = rateNumber(value)
  return n === null ? '—' : `${(n * 100).toFixed(places)}%`
}

/** `2026-H1`, `2026-H2` of a day. */
export function halfOf(day: string): string {
  return `${day.slice(0, 4)}-H${Number(day.slice(5, 7)) <= 6 ? 1 : 2}`
}

/** The last ended half-year before `day` (a semiannual report's default). */
export function lastHalf(day: string): string {
  const year = Number(day.slice(0, 4))
  return Number(day.slice(5, 7)) <= 6 ? `${year - 1}-H2` : `${year}-H1`
}
