// A small Rhai mode for CodeMirror 6 (a StreamLanguage): keywords, strings (with escapes,
// multi-line backtick strings), numbers, nested block comments, operators, `fn` names,
// `module::` paths and `.property` access. Enough to read and edit the policy scripts.
import { StreamLanguage, StringStream, type StreamParser } from '@codemirror/language'

export const RHAI_KEYWORDS = new Set([
  'fn', 'let', 'const', 'if', 'else', 'switch', 'while', 'loop', 'for', 'in', 'do', 'until',
  'break', 'continue', 'return', 'throw', 'try', 'catch', 'import', 'export', 'as', 'private',
  'global', 'this', 'is_shared',
])
export const RHAI_ATOMS = new Set(['true', 'false'])

export interface RhaiState {
  /** Depth of nested block comments open at the end of the last line (0 = none). */
  comment: number
  /** Inside a backtick string that spans lines. */
  backtick: boolean
  /** The previous significant token was `fn`: the next identifier is a definition. */
  afterFn: boolean
}

const OPERATORS = /^(?:\?\?|\?\.|\?\[|::|=>|&&|\|\||\.\.=?|<<=?|>>=?|\*\*=?|[-+*/%&|^=!<>]=?|[?~@$])/

function blockComment(stream: StringStream, state: RhaiState): string {
  while (!stream.eol()) {
    if (stream.match('/*')) state.comment += 1
    else if (stream.match('*/')) {
      state.comment -= 1
      if (state.comment === 0) break
    } else stream.next()
  }
  return 'comment'
}

function backtick(stream: StringStream, state: RhaiState): string {
  while (!stream.eol()) {
    const ch = stream.next()
    if (ch === '\\') stream.next()
    else if (ch === '`') {
      state.backtick = false
      break
    }
  }
  return 'string.special'
}

export const rhaiParser: StreamParser<RhaiState> = {
  name: 'rhai',
  startState: () => ({ comment: 0, backtick: false, afterFn: false }),
  copyState: (state) => ({ ...state }),
  token(stream, state) {
    if (state.comment > 0) return blockComment(stream, state)
    if (state.backtick) return backtick(stream, state)
    if (stream.eatSpace()) return null

    if (stream.match('//')) {
      stream.skipToEnd()
      return 'comment'
    }
    if (stream.match('/*')) {
      state.comment = 1
      return blockComment(stream, state)
    }
    const ch = stream.peek()!
    if (ch === '"') {
      stream.next()
      while (!stream.eol()) {
        const c = stream.next()
        if (c === '\\') stream.next()
        else if (c === '"') break
      }
      state.afterFn = false
      return 'string'
    }
    if (ch === "'") {
      // A character literal: 'a', '\n', '\u{1F600}'.
      if (stream.match(/^'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^'\\])'/)) return 'string'
      stream.next()
      return 'invalid'
    }
    if (ch === '`') {
      stream.next()
      state.backtick = true
      state.afterFn = false
      return backtick(stream, state)
    }
    if (/\d/.test(ch)) {
      if (
        stream.match(/^0x[0-9a-fA-F_]+/) ||
        stream.match(/^0o[0-7_]+/) ||
        stream.match(/^0b[01_]+/) ||
        stream.match(/^\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?/)
      ) {
        state.afterFn = false
        return 'number'
      }
    }
    if (stream.match(/^[A-Za-z_][A-Za-z0-9_]*/)) {
      const word = stream.current()
      if (state.afterFn) {
        state.afterFn = false
        return 'def'
      }
      if (RHAI_KEYWORDS.has(word)) {
        state.afterFn = word === 'fn'
        return 'keyword'
      }
      if (RHAI_ATOMS.has(word)) return 'bool'
      if (stream.match('::', false)) return 'namespace'
      // `.name` after a value: a property (but `x.name(` is a method call).
      const before = stream.string.charAt(stream.start - 1)
      if (stream.match(/^\s*\(/, false)) return 'variableName.function'
      if (before === '.') return 'propertyName'
      return 'variableName'
    }
    if (stream.match('#{')) return 'brace'
    if (stream.match(OPERATORS)) {
      state.afterFn = false
      return 'operator'
    }
    const next = stream.next()!
    if ('{}'.includes(next)) return 'brace'
    if ('[]'.includes(next)) return 'squareBracket'
    if ('()'.includes(next)) return 'paren'
    return 'punctuation'
  },
  languageData: {
    commentTokens: { line: '//', block: { open: '/*', close: '*/' } },
    closeBrackets: { brackets: ['(', '[', '{', '"', '`'] },
  },
}

export const rhaiLanguage = StreamLanguage.define(rhaiParser)

export interface RhaiToken {
  text: string
  type: string | null
  line: number
}

/** The tokens of a text as the mode sees them, line by line (for tests and previews). */
export function rhaiTokens(text: string): RhaiToken[] {
  const state = rhaiParser.startState!(2)
  const out: RhaiToken[] = []
  text.split('\n').forEach((line, index) => {
    const stream = new StringStream(line, 4, 2)
    while (!stream.eol()) {
      stream.start = stream.pos
      const type = rhaiParser.token(stream, state)
      if (stream.pos === stream.start) throw new Error(`the Rhai mode did not advance at ${index + 1}:${stream.pos}`)
      if (type !== null) out.push({ text: stream.current(), type, line: index + 1 })
    }
  })
  return out
}
