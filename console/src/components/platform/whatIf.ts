// Compares two assessment runs of the same units (current rules, candidate rules): places,
// scores and vetoes that would change.
import type { AssessmentRun } from './rulesApi'

type Unit = AssessmentRun['units'][number]

export interface Veto {
  code: string
  reason: string
}

export interface UnitComparison {
  unit: string
  name: string
  current?: Unit
  candidate?: Unit
  currentRank: number | null
  candidateRank: number | null
  currentScore: string | null
  candidateScore: string | null
  /** Places gained (positive: better) in the excellence ranking; null when either has no place. */
  rankChange: number | null
  newVetoes: Veto[]
  removedVetoes: Veto[]
}

export function vetoesOf(unit?: Unit): Veto[] {
  return (unit?.vetoes ?? []).map((veto) => {
    const v = veto as { code?: unknown; reason?: unknown }
    return { code: String(v.code ?? ''), reason: String(v.reason ?? '') }
  })
}

export function scoreOf(unit?: Unit): string | null {
  const score = unit?.score as { total?: unknown } | null | undefined
  if (!score || score.total === undefined || score.total === null) return null
  return String(score.total)
}

/** One line per unit of either run, in the candidate's order (then units only in the current run). */
export function compareRuns(current: AssessmentRun, candidate: AssessmentRun): UnitComparison[] {
  const before = new Map(current.units.map((u) => [u.unit, u]))
  const after = new Map(candidate.units.map((u) => [u.unit, u]))
  const order = [...candidate.units.map((u) => u.unit), ...current.units.map((u) => u.unit).filter((id) => !after.has(id))]
  return order.map((id) => {
    const a = before.get(id)
    const b = after.get(id)
    const oldVetoes = vetoesOf(a)
    const newVetoes = vetoesOf(b)
    const currentRank = a?.rank ?? null
    const candidateRank = b?.rank ?? null
    return {
      unit: id,
      name: b?.name ?? a?.name ?? id,
      current: a,
      candidate: b,
      currentRank,
      candidateRank,
      currentScore: scoreOf(a),
      candidateScore: scoreOf(b),
      rankChange: currentRank !== null && candidateRank !== null ? currentRank - candidateRank : null,
      newVetoes: newVetoes.filter((v) => !oldVetoes.some((o) => o.code === v.code)),
      removedVetoes: oldVetoes.filter((o) => !newVetoes.some((v) => v.code === o.code)),
    }
  })
}

/** How many units moved, were newly vetoed, or lost a veto. */
export function summarize(rows: UnitComparison[]) {
  return {
    moved: rows.filter((r) => r.rankChange !== null && r.rankChange !== 0).length,
    scoreChanged: rows.filter((r) => r.currentScore !== r.candidateScore).length,
    newlyVetoed: rows.filter((r) => !r.current?.vetoed && r.candidate?.vetoed).length,
    noLongerVetoed: rows.filter((r) => r.current?.vetoed && !r.candidate?.vetoed).length,
  }
}
