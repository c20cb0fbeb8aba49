// How numbers and times read in the console: China time, Chinese labels.

const CHINA = 'Asia/Shanghai'

/** `2026-12-05 14:03` in China time. */
export function chinaTime(value?: string | null): string {
  if (!value) return '—'
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) return value
  const parts = new Intl.DateTimeFormat('zh-CN', {
    timeZone: CHINA,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).formatToParts(date)
  const get = (type: string) => parts.find((part) => part.type === type)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`
}

/** Today's date in China, `YYYY-MM-DD`. */
export function chinaToday(now: Date = new Date()): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: CHINA }).format(now)
}

/** `YYYY-MM` of the month in China. */
export function chinaMonth(now: Date = new Date()): string {
  return chinaToday(now).slice(0, 7)
}

/** A rate in [0, 1] (or a decimal string) as a percentage with one decimal, `—` when absent. */
export function percent(value?: number | string | null): string {
  if (value === null || value === undefined || value === '') return '—'
  const number = typeof value === 'string' ? Number(value) : value
  if (Number.isNaN(number)) return '—'
  return `${(number * 100).toFixed(1)}%`
}

export const LEVELS: Record<string, string> = {
  very_satisfied: '非常满意',
  satisfied: '满意',
  basically_satisfied: '基本满意',
  dissatisfied: '不满意',
  very_dissatisfied: '非常不满意',
}

export const CHANNELS: Record<string, string> = {
  pc: '网上办事（电脑）',
  mobile: '移动端',
  qr_code: '窗口二维码',
  hall_device: '评价器',
  hall_terminal: '自助终端',
  phone: '电话',
  sms: '短信',
  system_default: '默认好评',
}

export const ROLES: Record<string, string> = {
  admin: '系统管理员',
  supervisor: '监督员',
  department_handler: '部门办理人',
  window_staff: '窗口人员',
  callback_agent: '回访员',
  reviewer: '复核员',
  rule_editor: '规则编辑',
}

export const PHASES: Record<string, string> = {
  contact: '联系评价人',
  verify: '核实',
  rectify: '整改',
  feedback: '反馈',
  callback: '回访',
  appeal: '申诉',
}

export const STATES: Record<string, string> = {
  dispatched: '待签收',
  accepted: '已签收',
  verified: '已核实',
  rectifying: '整改中',
  appealing: '申诉中',
  rectified: '已整改',
  feedback_given: '已反馈',
  called_back: '已回访',
  closed: '已办结',
}

export const ORDER_KINDS: Record<string, string> = {
  bad_review: '差评',
  complaint: '投诉',
  suggestion: '建议',
  request: '诉求',
}

/** A label from a table, or the code itself when the table does not know it. */
export function label(table: Record<string, string>, code?: string | null): string {
  if (!code) return '—'
  return table[code] ?? code
}
