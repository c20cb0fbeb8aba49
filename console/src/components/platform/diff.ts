// Line diffs of rules files between two versions (jsdiff `diffLines`), as rows of a unified
// view with both line numbers, unchanged stretches folded to a few lines of context.
import { diffLines } from 'diff'

export type RowKind = 'same' | 'add' | 'del' | 'fold'

export interface DiffRow {
  kind: RowKind
  /** Line number in the old text (same, del). */
  old?: number
  /** Line number in the new text (same, add). */
  new?: number
  text: string
  /** For `fold`: how many unchanged lines are hidden. */
  hidden?: number
}

function linesOf(value: string): string[] {
  const lines = value.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/** Every line of the two texts, marked same / added / removed. */
export function diffRows(before: string, after: string): DiffRow[] {
  const rows: DiffRow[] = []
  let oldNo = 1
  let newNo = 1
  for (const part of diffLines(before, after)) {
    for (const text of linesOf(part.value)) {
      if (part.added) rows.push({ kind: 'add', new: newNo++, text })
      else if (part.removed) rows.push({ kind: 'del', old: oldNo++, text })
      else rows.push({ kind: 'same', old: oldNo++, new: newNo++, text })
    }
  }
  return rows
}

/** Folds unchanged stretches longer than `2 × context` into one `fold` row. */
export function foldRows(rows: DiffRow[], context = 3): DiffRow[] {
  const out: DiffRow[] = []
  let index = 0
  while (index < rows.length) {
    if (rows[index].kind !== 'same') {
      out.push(rows[index++])
      continue
    }
    let end = index
    while (end < rows.length && rows[end].kind === 'same') end++
    const first = index === 0
    const last = end === rows.length
    const keepHead = first ? 0 : context
    const keepTail = last ? 0 : context
    const length = end - index
    if (length > keepHead + keepTail + 1) {
      out.push(...rows.slice(index, index + keepHead))
      out.push({ kind: 'fold', text: '', hidden: length - keepHead - keepTail })
      out.push(...rows.slice(end - keepTail, end))
    } else {
      out.push(...rows.slice(index, end))
    }
    index = end
  }
  return out
}

export type FileChange = 'added' | 'removed' | 'changed' | 'same'

export interface FileDiff {
  path: string
  change: FileChange
  added: number
  removed: number
}

/** Per file of either version: whether it changed, and how many lines came and went. */
export function fileDiffs(before: Record<string, string>, after: Record<string, string>): FileDiff[] {
  const paths = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
  return paths.map((path) => {
    const a = before[path]
    const b = after[path]
    if (a === b) return { path, change: 'same' as const, added: 0, removed: 0 }
    const rows = diffRows(a ?? '', b ?? '')
    return {
      path,
      change: a === undefined ? ('added' as const) : b === undefined ? ('removed' as const) : ('changed' as const),
      added: rows.filter((r) => r.kind === 'add').length,
      removed: rows.filter((r) => r.kind === 'del').length,
    }
  })
}
