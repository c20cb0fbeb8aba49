// Shapes the API document leaves open (`GET /admin/plugins` is `serde_json::Value`), the
// labels of the platform screens, and small pure helpers shared by them.
import type { Schemas } from '@/api/client'

/** One active adapter, as `GET /api/v1/admin/plugins` lists it (hcp_plugins::PluginStatus). */
export interface PluginStatus {
  id: string
  version: string
  vendor: string
  kind: string
  sha256: string
  installed_at: string
  origin: string
  calls: number
  failures: number
  consecutive_failures: number
  quarantined_until?: string | null
  last_error?: string | null
}

/** The last failed installation of one file. */
export interface LoadFailure {
  origin: string
  at: string
  error: string
}

export interface PluginsView {
  plugins: PluginStatus[]
  load_failures: LoadFailure[]
}

export type Device = Schemas['Page_DeviceView']['items'][number]
export type Source = Schemas['Source']
export type UplinkStatus = Schemas['UplinkStatus']
export type UplinkStep = Schemas['UplinkStep']
export type RunReport = Schemas['RunReport']

export const PLUGIN_KINDS: Record<string, string> = {
  hall_device: '评价器',
  business_system: '业务系统',
  uplink: '省级上报',
}

export const SOURCE_KINDS: Record<string, string> = {
  business_system: '业务系统',
  devices: '评价设备',
  platform: '平台自身',
  other: '其他',
}

export const ORG_KINDS: Record<string, string> = {
  city: '市',
  county: '县（市、区）',
  township: '乡镇（街道）',
  village: '村（社区）',
  hall: '政务服务大厅',
  service_point: '便民服务站点',
  department: '部门',
  window: '窗口',
}

/** Hex of bytes (an ed25519 signature file given as raw bytes). */
export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The `X-Plugin-Signature` of a signature file: a hex text file is taken as it is (white
 * space removed); 64 raw bytes are written in hex. Anything else is refused.
 */
export function signatureHeader(bytes: Uint8Array): string | null {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).replace(/\s+/g, '')
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 && text.length >= 128) return text.toLowerCase()
  if (bytes.length === 64) return toHex(bytes)
  return null
}

/** Health of an adapter in words: quarantined (until), failing, or healthy. */
export function pluginHealth(plugin: PluginStatus, now: Date = new Date()): 'quarantined' | 'failing' | 'healthy' {
  if (plugin.quarantined_until && Date.parse(plugin.quarantined_until) > now.getTime()) return 'quarantined'
  if (plugin.consecutive_failures > 0) return 'failing'
  return 'healthy'
}

/** One step of an uplink run in Chinese. */
export function describeStep(step: UplinkStep): string {
  switch (step.step) {
    case 'idle':
      return '已全部上报，没有待报数据'
    case 'prepared':
      return `第 ${step.number} 批已生成（${step.records} 条），等待发送`
    case 'skipped':
      return `${step.records} 条记录适配器无法表达，已列为未发送`
    case 'acknowledged':
      return `第 ${step.number} 批省级平台已确认：接收 ${step.accepted} 条，拒收 ${step.refused} 条`
    case 'failed':
      return `第 ${step.number} 批发送失败：${step.error}`
    case 'waiting':
      return `第 ${step.number} 批等待重试`
    case 'blocked':
      return `上报受阻：${step.reason}`
    default:
      return JSON.stringify(step)
  }
}

/** A reconciliation gap per line: what the province counts minus what the platform holds. */
export function gap(row: { platform: number; province: number }): number {
  return row.province - row.platform
}
