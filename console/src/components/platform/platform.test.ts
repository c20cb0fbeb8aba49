import { describe, expect, it } from 'vitest'
import { describeStep, gap, pluginHealth, signatureHeader, toHex, type PluginStatus } from './platform'

describe('platform helpers', () => {
  it('reads signature files as hex text or 64 raw bytes', () => {
    const raw = new Uint8Array(64).map((_, i) => i)
    expect(signatureHeader(raw)).toBe(toHex(raw))
    const text = new TextEncoder().encode(`${'AB'.repeat(64)}\n`)
    expect(signatureHeader(text)).toBe('ab'.repeat(64))
    expect(signatureHeader(new Uint8Array([1, 2, 3]))).toBeNull()
  })

  it('tells quarantined, failing and healthy adapters apart', () => {
    const base: PluginStatus = {
      id: 'x', version: '1', vendor: 'v', kind: 'hall_device', sha256: '', installed_at: '', origin: '',
      calls: 3, failures: 0, consecutive_failures: 0,
    }
    const now = new Date('2026-12-05T00:00:00Z')
    expect(pluginHealth(base, now)).toBe('healthy')
    expect(pluginHealth({ ...base, consecutive_failures: 2 }, now)).toBe('failing')
    expect(pluginHealth({ ...base, consecutive_failures: 5, quarantined_until: '2026-12-05T00:10:00Z' }, now)).toBe('quarantined')
    expect(pluginHealth({ ...base, quarantined_until: '2026-12-04T00:10:00Z' }, now)).toBe('healthy')
  })

  it('says what an uplink step did', () => {
    expect(describeStep({ step: 'acknowledged', number: 7, accepted: 9, refused: 1 })).toBe('第 7 批省级平台已确认：接收 9 条，拒收 1 条')
    expect(describeStep({ step: 'blocked', reason: '未配置地址' })).toBe('上报受阻：未配置地址')
    expect(gap({ platform: 10, province: 8 })).toBe(-2)
  })
})
