// Pure helpers of the rules screen: folders of a version, the candidate built from edits,
// the period simulated, where an error points, and what a simulation moved.
import type { RulesFiles, Simulation } from './rulesApi'

export const HOOKS = ['deadline', 'routing', 'assessment', 'veto', 'invitation', 'default_rating', 'integrity'] as const

/** The folder a path belongs to: `default`, a county code, `calendar`, or `` (top-level files). */
export function folderOf(path: string): string {
  const slash = path.indexOf('/')
  return slash < 0 ? '' : path.slice(0, slash)
}

/** Whether a folder is a county's (6-digit code). */
export function isCounty(folder: string): boolean {
  return /^\d{6}$/.test(folder)
}

export interface Folder {
  name: string
  paths: string[]
}

/** The folders of a version: `default` first, then counties by code, then `calendar`, then the rest. */
export function foldersOf(files: RulesFiles): Folder[] {
  const byFolder = new Map<string, string[]>()
  for (const path of Object.keys(files)) {
    const folder = folderOf(path)
    if (!byFolder.has(folder)) byFolder.set(folder, [])
    byFolder.get(folder)!.push(path)
  }
  const order = (name: string) => (name === 'default' ? 0 : isCounty(name) ? 1 : name === 'calendar' ? 2 : 3)
  return [...byFolder.entries()]
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([name, paths]) => ({ name, paths: paths.sort(comparePaths) }))
}

/** Hooks before lib/ before tests/, each by name. */
function comparePaths(a: string, b: string): number {
  const depth = (path: string) => path.split('/').length
  return depth(a) - depth(b) || a.localeCompare(b)
}

/** The paths whose working text differs from the active one (or that are new). */
export function editedPaths(active: RulesFiles, working: RulesFiles): string[] {
  return Object.keys(working)
    .filter((path) => working[path] !== active[path])
    .sort()
}

/** The whole candidate folder: the active files with the edited ones replaced. */
export function candidateOf(active: RulesFiles, working: RulesFiles): RulesFiles {
  return { ...active, ...working }
}

/** What the simulation takes: the policy scopes only (the calendar is loaded on its own). */
export function policyFilesOf(files: RulesFiles): RulesFiles {
  const out: RulesFiles = {}
  for (const [path, text] of Object.entries(files)) {
    const folder = folderOf(path)
    if (folder === 'default' || isCounty(folder)) out[path] = text
  }
  return out
}

/** One folder's files, as saved by `PUT /rules/files` (`default` or a county). */
export function folderFiles(files: RulesFiles, folder: string): RulesFiles {
  const out: RulesFiles = {}
  for (const [path, text] of Object.entries(files)) if (folderOf(path) === folder) out[path] = text
  return out
}

/** Whether the edits touch the assessment ranking (offer the what-if). */
export function touchesAssessment(paths: string[]): boolean {
  return paths.some((path) => /(^|\/)(assessment|veto)\.rhai$/.test(path) || /\/lib\/[^/]+\.rhai$/.test(path))
}

/** The calendar month before today's (China date `YYYY-MM-DD`), as `{from, to, period}`. */
export function lastMonth(today: string): { from: string; to: string; period: string } {
  let year = Number(today.slice(0, 4))
  let month = Number(today.slice(5, 7)) - 1
  if (month === 0) {
    month = 12
    year -= 1
  }
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate()
  const mm = String(month).padStart(2, '0')
  return { from: `${year}-${mm}-01`, to: `${year}-${mm}-${String(last).padStart(2, '0')}`, period: `${year}-${mm}` }
}

export interface Location {
  path: string
  line: number
  column?: number
}

/** The first `path:line[:column]` an error message names (`410421/deadline.rhai:3:8: …`). */
export function errorLocation(message?: string | null): Location | null {
  if (!message) return null
  const match = /((?:default|\d{6}|calendar)\/[\w./-]+\.(?:rhai|json|toml)):(\d+)(?::(\d+))?/.exec(message)
  if (!match) return null
  return { path: match[1], line: Number(match[2]), column: match[3] ? Number(match[3]) : undefined }
}

interface Phase {
  phase?: string
  amount?: number
  unit?: string
  due?: string
}

export interface MovedDeadline {
  rating: number
  county: string
  hook: string
  phase: string
  before: Phase | null
  after: Phase | null
}

function phasesOf(output: Record<string, unknown>): Phase[] {
  const phases = (output as { phases?: unknown }).phases
  return Array.isArray(phases) ? (phases as Phase[]) : []
}

/** One row per phase whose due instant, amount or unit moved (or that appeared or went away). */
export function movedDeadlines(simulation: Simulation): MovedDeadline[] {
  const out: MovedDeadline[] = []
  for (const change of simulation.changes) {
    const before = phasesOf(change.active)
    const after = phasesOf(change.candidate)
    const names = [...new Set([...before, ...after].map((p) => p.phase ?? ''))]
    for (const phase of names) {
      const old = before.find((p) => p.phase === phase) ?? null
      const next = after.find((p) => p.phase === phase) ?? null
      const same =
        old && next && old.due === next.due && old.amount === next.amount && old.unit === next.unit
      if (!same) out.push({ rating: change.rating_id, county: change.county, hook: change.hook, phase, before: old, after: next })
    }
    if (names.length === 0) {
      out.push({ rating: change.rating_id, county: change.county, hook: change.hook, phase: '', before: null, after: null })
    }
  }
  return out
}

/** Hours between two instants (positive: later), for "推迟 2 天" summaries. */
export function shiftHours(before?: string, after?: string): number | null {
  if (!before || !after) return null
  const a = Date.parse(before)
  const b = Date.parse(after)
  if (Number.isNaN(a) || Number.isNaN(b)) return null
  return Math.round((b - a) / 3_600_000)
}
