import { describe, expect, it } from 'vitest'
import { dispositionName, framedReport } from './download'

describe('dispositionName', () => {
  it('prefers the UTF-8 name', () => {
    const header =
      "inline; filename=\"bulletin-2026-11-410421.html\"; filename*=UTF-8''%E5%AE%9D%E4%B8%B0%E5%8E%BF.html"
    expect(dispositionName(header, 'x')).toBe('宝丰县.html')
  })
  it('falls back to the plain name, then to the fallback', () => {
    expect(dispositionName('attachment; filename="a.xlsx"', 'x')).toBe('a.xlsx')
    expect(dispositionName('attachment; filename=b.xlsx', 'x')).toBe('b.xlsx')
    expect(dispositionName(null, 'c.xlsx')).toBe('c.xlsx')
    expect(dispositionName("attachment; filename*=UTF-8''%E0%A4%A", 'd')).toBe('d')
  })
})

describe('framedReport', () => {
  it('hides the page print button right after <head>', () => {
    const out = framedReport('<html><head><meta charset="utf-8"></head><body><button class="print">打印</button></body></html>')
    expect(out.startsWith('<html><head><style>.print{display:none!important}</style>')).toBe(true)
    expect(out).toContain('<button class="print">打印</button>')
  })
  it('drops scripts and inline handlers', () => {
    const out = framedReport('<head></head><script>alert(1)</script><button class="print" onclick="window.print()">打印</button>')
    expect(out).not.toContain('script')
    expect(out).not.toContain('onclick')
    expect(out).toContain('<button class="print">打印</button>')
  })
  it('copes with a page without head', () => {
    expect(framedReport('<p>x</p>')).toContain('<p>x</p>')
  })
})
