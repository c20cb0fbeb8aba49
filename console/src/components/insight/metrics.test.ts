import { describe, expect, it } from 'vitest'
import {
  addDays,
  childrenOf,
  dimOfKind,
  drillLink,
  halfOf,
  lastDays,
  lastHalf,
  monthEnd,
  monthPeriod,
  ordersLink,
  pct,
  previousMonth,
  ratingsLink,
  thisMonth,
} from './metrics'

describe('periods', () => {
  it('adds days across months and leap years', () => {
    expect(addDays('2026-12-01', -1)).toBe('2026-11-30')
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29')
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
  })
  it('knows month ends and the month before', () => {
    expect(monthEnd('2026-02')).toBe('2026-02-28')
    expect(monthEnd('2028-02')).toBe('2028-02-29')
    expect(previousMonth('2026-01')).toBe('2025-12')
  })
  it('cuts a month at the last visible day', () => {
    expect(monthPeriod('2026-11', '2026-12-05')).toEqual({ from: '2026-11-01', to: '2026-11-30' })
    expect(monthPeriod('2026-12', '2026-12-05')).toEqual({ from: '2026-12-01', to: '2026-12-05' })
  })
  it('gives last month to window staff on the 1st (yesterday is last month)', () => {
    expect(thisMonth(addDays('2026-12-01', -1))).toEqual({ from: '2026-11-01', to: '2026-11-30' })
  })
  it('counts trailing days inclusively', () => {
    expect(lastDays('2026-12-05', 30)).toEqual({ from: '2026-11-06', to: '2026-12-05' })
  })
  it('names half-years', () => {
    expect(halfOf('2026-06-30')).toBe('2026-H1')
    expect(halfOf('2026-07-01')).toBe('2026-H2')
    expect(lastHalf('2026-12-05')).toBe('2026-H1')
    expect(lastHalf('2026-03-01')).toBe('2025-H2')
  })
})

describe('dimensions', () => {
  it('maps org kinds to stats dimensions', () => {
    expect(dimOfKind('city')).toBe('region')
    expect(dimOfKind('township')).toBe('region')
    expect(dimOfKind('hall')).toBe('hall')
    expect(dimOfKind('service_point')).toBe('hall')
    expect(dimOfKind('department')).toBe('department')
    expect(dimOfKind('window')).toBe('window')
  })
  it('chooses the children to compare', () => {
    expect(childrenOf('region', 'city')).toBe('region')
    expect(childrenOf('region', 'township')).toBe('hall')
    expect(childrenOf('hall')).toBe('window')
    expect(childrenOf('department')).toBeNull()
  })
})

describe('links', () => {
  it('turns API drill-downs into console screens', () => {
    expect(drillLink('/api/v1/ratings?dim=region&unit=410400&from=2026-12-01&to=2026-12-05&bad_only=true')).toEqual({
      path: '/analysis/ratings',
      query: { dim: 'region', unit: '410400', from: '2026-12-01', to: '2026-12-05', bad_only: 'true' },
    })
    expect(drillLink('/api/v1/orders?kind=bad_review&filed_dim=region&filed_unit=410403')).toEqual({
      path: '/orders',
      query: { kind: 'bad_review', filed_dim: 'region', filed_unit: '410403' },
    })
    expect(drillLink('/api/v1/analysis/attribution?dim=hall&unit=H1&from=a&to=b')).toEqual({
      path: '/analysis',
      query: { dim: 'hall', unit: 'H1', from: 'a', to: 'b' },
    })
    expect(drillLink('/api/v1/coverage/sources?unit=410400')).toBeNull()
    expect(drillLink(null)).toBeNull()
  })
  it('builds ratings and orders links with the same filters', () => {
    const t = { dim: 'staff' as const, unit: 'S1' }
    const p = { from: '2026-12-01', to: '2026-12-04' }
    expect(ratingsLink(t, p, { level: 'dissatisfied', real_name_only: true })).toEqual({
      path: '/analysis/ratings',
      query: { dim: 'staff', unit: 'S1', from: '2026-12-01', to: '2026-12-04', level: 'dissatisfied', real_name_only: 'true' },
    })
    expect(ordersLink(t, p, { overdue: true })).toEqual({
      path: '/orders',
      query: { kind: 'bad_review', filed_dim: 'staff', filed_unit: 'S1', received_from: '2026-12-01', received_to: '2026-12-04', overdue: 'true' },
    })
  })
  it('formats rates', () => {
    expect(pct('0.972304')).toBe('97.2%')
    expect(pct(null)).toBe('—')
    expect(pct('1', 0)).toBe('100%')
  })
})
