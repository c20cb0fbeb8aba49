import { describe, expect, it } from 'vitest'
import { diffRows, fileDiffs, foldRows } from './diff'

describe('line diffs', () => {
  it('numbers old and new lines', () => {
    const rows = diffRows('a\nb\nc\n', 'a\nB\nc\nd\n')
    expect(rows.map((r) => [r.kind, r.old ?? null, r.new ?? null, r.text])).toEqual([
      ['same', 1, 1, 'a'],
      ['del', 2, null, 'b'],
      ['add', null, 2, 'B'],
      ['same', 3, 3, 'c'],
      ['add', null, 4, 'd'],
    ])
  })

  it('folds long unchanged stretches to three lines of context', () => {
    const before = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join('\n') + '\n'
    const after = before.replace('l10\n', 'L10\n')
    const rows = foldRows(diffRows(before, after))
    expect(rows[0]).toMatchObject({ kind: 'fold', hidden: 6 })
    expect(rows.filter((r) => r.kind === 'same').map((r) => r.text)).toEqual(['l7', 'l8', 'l9', 'l11', 'l12', 'l13'])
    expect(rows.at(-1)).toMatchObject({ kind: 'fold', hidden: 7 })
  })

  it('tells added, removed, changed and unchanged files apart', () => {
    expect(fileDiffs({ a: 'x\n', b: 'y\n', c: 'z\n' }, { a: 'x\n', b: 'y2\n', d: 'w\n' })).toEqual([
      { path: 'a', change: 'same', added: 0, removed: 0 },
      { path: 'b', change: 'changed', added: 1, removed: 1 },
      { path: 'c', change: 'removed', added: 0, removed: 1 },
      { path: 'd', change: 'added', added: 1, removed: 0 },
    ])
  })
})
