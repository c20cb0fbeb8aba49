import { describe, expect, it } from 'vitest'
import {
  candidateOf,
  editedPaths,
  errorLocation,
  folderFiles,
  foldersOf,
  lastMonth,
  movedDeadlines,
  policyFilesOf,
  shiftHours,
  touchesAssessment,
} from './rules'
import type { Simulation } from './rulesApi'

const files = {
  'calendar/2026.toml': 'x',
  '410482/assessment.rhai': 'a',
  'default/tests/deadline.json': '[]',
  'default/deadline.rhai': 'd',
  'default/lib/common.rhai': 'c',
  '410421/deadline.rhai': 'b',
  '410421/tests/deadline.json': '[]',
}

describe('rules folders', () => {
  it('lists default first, counties by code, calendar last; hooks before lib and tests', () => {
    expect(foldersOf(files)).toEqual([
      { name: 'default', paths: ['default/deadline.rhai', 'default/lib/common.rhai', 'default/tests/deadline.json'] },
      { name: '410421', paths: ['410421/deadline.rhai', '410421/tests/deadline.json'] },
      { name: '410482', paths: ['410482/assessment.rhai'] },
      { name: 'calendar', paths: ['calendar/2026.toml'] },
    ])
  })

  it('builds the candidate from the edits and knows what was edited', () => {
    const working = { '410421/deadline.rhai': 'b2', 'default/deadline.rhai': 'd' }
    expect(editedPaths(files, working)).toEqual(['410421/deadline.rhai'])
    expect(candidateOf(files, working)['410421/deadline.rhai']).toBe('b2')
    expect(Object.keys(candidateOf(files, working))).toHaveLength(7)
    expect(Object.keys(policyFilesOf(files))).not.toContain('calendar/2026.toml')
    expect(Object.keys(folderFiles(files, '410421'))).toEqual(['410421/deadline.rhai', '410421/tests/deadline.json'])
  })

  it('offers the what-if for assessment, veto and shared modules only', () => {
    expect(touchesAssessment(['410421/deadline.rhai'])).toBe(false)
    expect(touchesAssessment(['410482/assessment.rhai'])).toBe(true)
    expect(touchesAssessment(['default/veto.rhai'])).toBe(true)
    expect(touchesAssessment(['default/lib/common.rhai'])).toBe(true)
  })

  it('takes the month before, across a year', () => {
    expect(lastMonth('2026-12-05')).toEqual({ from: '2026-11-01', to: '2026-11-30', period: '2026-11' })
    expect(lastMonth('2026-01-31')).toEqual({ from: '2025-12-01', to: '2025-12-31', period: '2025-12' })
    expect(lastMonth('2028-03-01').to).toBe('2028-02-29')
  })

  it('finds file:line:column in error messages', () => {
    expect(errorLocation('410421/deadline.rhai:3:8: unexpected \'*\'')).toEqual({ path: '410421/deadline.rhai', line: 3, column: 8 })
    expect(errorLocation('FAIL default/tests/deadline.json:12: x')).toEqual({ path: 'default/tests/deadline.json', line: 12, column: undefined })
    expect(errorLocation('no holiday table loaded for 2027')).toBeNull()
    expect(errorLocation(null)).toBeNull()
  })
})

describe('moved deadlines', () => {
  const phase = (name: string, amount: number, due: string) => ({ phase: name, amount, unit: 'working_days', due })
  const simulation = {
    active_version: 'a',
    candidate_version: 'b',
    compared: 10,
    changed: 1,
    changes: [
      {
        rating_id: 7,
        hook: 'deadline',
        county: '410421',
        active: { phases: [phase('contact', 1, '2026-12-01T16:00:00Z'), phase('rectify', 5, '2026-12-07T16:00:00Z')] },
        candidate: { phases: [phase('contact', 1, '2026-12-01T16:00:00Z'), phase('rectify', 6, '2026-12-08T16:00:00Z'), phase('appeal', 3, '2026-12-03T16:00:00Z')] },
      },
    ],
  } as unknown as Simulation
  it('lists only the phases that moved, appeared or went away', () => {
    const rows = movedDeadlines(simulation)
    expect(rows.map((r) => [r.rating, r.phase, r.before?.amount ?? null, r.after?.amount ?? null])).toEqual([
      [7, 'rectify', 5, 6],
      [7, 'appeal', null, 3],
    ])
    expect(shiftHours(rows[0].before?.due, rows[0].after?.due)).toBe(24)
    expect(shiftHours(undefined, 'x')).toBeNull()
  })
})
