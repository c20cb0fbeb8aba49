import { describe, expect, it } from 'vitest'
import { compareRuns, summarize } from './whatIf'
import type { AssessmentRun } from './rulesApi'

function run(units: { unit: string; rank: number | null; total: string; vetoes?: string[] }[]): AssessmentRun {
  return ({
    period: '2026-11', from: '2026-11-01', to: '2026-11-30', unit_kind: 'region', scope: '410400',
    as_of: '2026-12-01T00:00:00Z', rules_version: 'v', calendar_version: 'c',
    settings: { basic_counts_as_good: true, level_scores: [] },
    units: units.map((u) => ({
      unit: u.unit, name: `N${u.unit}`, county: u.unit, assessment_version: 'a', veto_version: 'v',
      metrics: {} as AssessmentRun['units'][number]['metrics'],
      rank: u.rank, position: u.rank, score: { total: u.total, items: [] },
      vetoed: (u.vetoes ?? []).length > 0,
      vetoes: (u.vetoes ?? []).map((code) => ({ code, reason: code })),
    })),
  }) as unknown as AssessmentRun
}

describe('what-if comparison', () => {
  it('shows rank changes and new or removed vetoes', () => {
    const current = run([
      { unit: 'A', rank: 1, total: '95.5' },
      { unit: 'B', rank: 2, total: '90' },
      { unit: 'C', rank: null, total: '80', vetoes: ['real_name_rectify_overdue'] },
    ])
    const candidate = run([
      { unit: 'B', rank: 1, total: '96' },
      { unit: 'A', rank: null, total: '95.52', vetoes: ['coercion'] },
      { unit: 'C', rank: 2, total: '80' },
    ])
    const rows = compareRuns(current, candidate)
    expect(rows.map((r) => [r.unit, r.currentRank, r.candidateRank, r.rankChange])).toEqual([
      ['B', 2, 1, 1],
      ['A', 1, null, null],
      ['C', null, 2, null],
    ])
    expect(rows[1].newVetoes.map((v) => v.code)).toEqual(['coercion'])
    expect(rows[2].removedVetoes.map((v) => v.code)).toEqual(['real_name_rectify_overdue'])
    expect(summarize(rows)).toEqual({ moved: 1, scoreChanged: 2, newlyVetoed: 1, noLongerVetoed: 1 })
  })
})
