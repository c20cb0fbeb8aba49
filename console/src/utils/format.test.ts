import { describe, expect, it } from 'vitest'
import { chinaMonth, chinaTime, chinaToday, label, LEVELS, percent } from './format'

describe('format', () => {
  it('reads instants in China time', () => {
    expect(chinaTime('2026-12-04T16:30:00Z')).toBe('2026-12-05 00:30')
    expect(chinaTime(null)).toBe('—')
  })
  it('knows the China date near midnight UTC', () => {
    const lateUtc = new Date('2026-12-31T17:00:00Z')
    expect(chinaToday(lateUtc)).toBe('2027-01-01')
    expect(chinaMonth(lateUtc)).toBe('2027-01')
  })
  it('shows rates as percentages', () => {
    expect(percent(0.9534)).toBe('95.3%')
    expect(percent('0.5')).toBe('50.0%')
    expect(percent(null)).toBe('—')
  })
  it('labels codes, and shows an unknown code as it is', () => {
    expect(label(LEVELS, 'dissatisfied')).toBe('不满意')
    expect(label(LEVELS, 'new_level')).toBe('new_level')
  })
})
