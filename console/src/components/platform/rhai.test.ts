import { describe, expect, it } from 'vitest'
import { rhaiTokens } from './rhai'

const kinds = (text: string) => rhaiTokens(text).map((t) => [t.text, t.type])

describe('the Rhai tokenizer', () => {
  it('reads keywords, definitions, calls and properties', () => {
    expect(kinds('fn deadline(input) { return input.kind; }')).toEqual([
      ['fn', 'keyword'],
      ['deadline', 'def'],
      ['(', 'paren'],
      ['input', 'variableName'],
      [')', 'paren'],
      ['{', 'brace'],
      ['return', 'keyword'],
      ['input', 'variableName'],
      ['.', 'punctuation'],
      ['kind', 'propertyName'],
      [';', 'punctuation'],
      ['}', 'brace'],
    ])
  })

  it('knows every keyword of the policy guide', () => {
    const words = 'fn let const if else switch while loop for in return throw try catch import export as private'
    for (const word of words.split(' ')) {
      expect(rhaiTokens(word)[0]).toMatchObject({ text: word, type: 'keyword' })
    }
    expect(kinds('true false')).toEqual([['true', 'bool'], ['false', 'bool']])
  })

  it('reads strings with escapes, characters and numbers', () => {
    expect(kinds('let s = "a \\"b\\" c";')).toEqual([
      ['let', 'keyword'],
      ['s', 'variableName'],
      ['=', 'operator'],
      ['"a \\"b\\" c"', 'string'],
      [';', 'punctuation'],
    ])
    expect(kinds("'x' 15 0.9512 1_000 0xFF 1e3")).toEqual([
      ["'x'", 'string'],
      ['15', 'number'],
      ['0.9512', 'number'],
      ['1_000', 'number'],
      ['0xFF', 'number'],
      ['1e3', 'number'],
    ])
  })

  it('reads comments, nested block comments across lines and backtick strings across lines', () => {
    const tokens = rhaiTokens('let a = 1; // 注释\n/* one /* two */ still\n end */ let b = `x ${a}\n y`;')
    expect(tokens.filter((t) => t.type === 'comment').map((t) => [t.text, t.line])).toEqual([
      ['// 注释', 1],
      ['/* one /* two */ still', 2],
      [' end */', 3],
    ])
    const strings = tokens.filter((t) => t.type === 'string.special')
    expect(strings.map((t) => t.line)).toEqual([3, 4])
    expect(tokens.at(-1)).toMatchObject({ text: ';', line: 4 })
  })

  it('reads operators, map literals and module paths', () => {
    expect(kinds('#{ a: x ?? 1 } common::phase("r", 5) => != && ||')).toEqual([
      ['#{', 'brace'],
      ['a', 'variableName'],
      [':', 'punctuation'],
      ['x', 'variableName'],
      ['??', 'operator'],
      ['1', 'number'],
      ['}', 'brace'],
      ['common', 'namespace'],
      ['::', 'operator'],
      ['phase', 'variableName.function'],
      ['(', 'paren'],
      ['"r"', 'string'],
      [',', 'punctuation'],
      ['5', 'number'],
      [')', 'paren'],
      ['=>', 'operator'],
      ['!=', 'operator'],
      ['&&', 'operator'],
      ['||', 'operator'],
    ])
  })

  it('tokenizes the shipped policy of 宝丰县 without getting stuck', async () => {
    const { readFileSync } = await import('node:fs')
    const text = readFileSync(`${process.cwd()}/../rules/410421/deadline.rhai`, 'utf8')
    const tokens = rhaiTokens(text)
    expect(tokens.some((t) => t.text === 'deadline' && t.type === 'def')).toBe(true)
    expect(tokens.filter((t) => t.type === 'keyword').map((t) => t.text)).toContain('import')
  })
})
