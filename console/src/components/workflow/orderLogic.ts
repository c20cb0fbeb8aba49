// Pure logic of the work-order screens: which steps a caller may take (a fallback for when the
// server does not yet say so in `OrderView.actions`), working-day countdowns (the server's
// `countdowns` when present, else a weekday estimate), the current phase and the flags of an
// order, and the Chinese labels of the loop's codes.
import type { Schemas } from '@/api/client'

/** A countdown of one open phase, as `OrderView.countdowns` carries it. */
export interface Countdown {
  phase: string
  due: string
  working_days_left: number
  overdue: boolean
  provisional?: boolean
  /** Set by the console when the server gave no countdowns: Mon–Fri counted, holidays not. */
  estimated?: boolean
}

/** An order as the API answers it, with the fields the server is adding (optional until live). */
export type OrderLike = Omit<Schemas['OrderView'], 'actions' | 'countdowns'> & {
  actions?: string[]
  countdowns?: Countdown[]
}

/** What the fallback needs to know about the caller. */
export interface Caller {
  username: string
  role: string
  staff_id?: string | null
  capabilities: string[]
}

/** Every step type a person takes on an order through `POST /orders/{id}/actions`, in loop order. */
export const STEP_TYPES = [
  'accept',
  'request_transfer',
  'decide_transfer',
  'contact',
  'verify',
  'dispose',
  'rectified',
  'appeal',
  'decide_appeal',
  'feedback',
  'callback',
  'close',
  'answer',
] as const
export type StepType = (typeof STEP_TYPES)[number]

const ANSWERED_KINDS = ['suggestion', 'request']

/**
 * The steps the caller may take on `order` now, worked out from their capabilities and the
 * order's state (mirrors the server's state machine and its role checks, minus the scope
 * checks the server alone can make). Used only when the order carries no `actions`.
 */
export function fallbackSteps(order: OrderLike, caller: Caller, now: Date = new Date()): StepType[] {
  const can = (capability: string) => caller.capabilities.includes(capability)
  const state = order.state
  if (state === 'closed') return []
  const out = new Set<StepType>()
  const pendingTransfer = !!order.transfer
  const answered = ANSWERED_KINDS.includes(order.kind)
  if (can('orders.work')) {
    if (state === 'dispatched' && !pendingTransfer) out.add('accept')
    if (['dispatched', 'accepted', 'verified'].includes(state) && !pendingTransfer) out.add('request_transfer')
    if (['accepted', 'verified'].includes(state)) out.add('contact')
    if (state === 'accepted' && !answered) out.add('verify')
    if (state === 'accepted' && answered) out.add('answer')
    if (state === 'verified' && !pendingTransfer) out.add('dispose')
    if (state === 'rectifying' && order.disposition?.type !== 'systemic') out.add('rectified')
    if (state === 'rectified') out.add('feedback')
    if (state === 'called_back') out.add('close')
  }
  if (can('orders.appeal') && appealOpen(order, now)) {
    const own = caller.role !== 'window_staff' || (!!order.staff && order.staff === caller.staff_id)
    if (own) out.add('appeal')
  }
  if (can('orders.transfer') && pendingTransfer) out.add('decide_transfer')
  if (can('appeals.decide') && state === 'appealing' && order.appeal?.filed_by !== caller.username) {
    out.add('decide_appeal')
  }
  if (can('callbacks') && state === 'feedback_given' && !callbackBySmsDue(order)) out.add('callback')
  return STEP_TYPES.filter((step) => out.has(step))
}

/** Whether a bad review may still be appealed: before the feedback, once, inside its window. */
export function appealOpen(order: OrderLike, now: Date = new Date()): boolean {
  if (order.kind !== 'bad_review' || order.appeal) return false
  if (!['dispatched', 'accepted', 'verified', 'rectifying'].includes(order.state)) return false
  const window = order.deadlines.find((deadline) => deadline.phase === 'appeal')
  return !!window && now.getTime() < new Date(window.due).getTime()
}

/** Three unreachable attempts: the platform completes the call-back by SMS, no more calls. */
export function callbackBySmsDue(order: Pick<OrderLike, 'calls'>): boolean {
  return order.calls.length >= 3 && order.calls.every((call) => call.outcome === 'unreachable')
}

/** The steps to offer: the server's `actions` whenever the field exists, else the fallback. */
export function stepsFor(order: OrderLike, caller: Caller | null, now: Date = new Date()): StepType[] {
  if (Array.isArray(order.actions)) {
    return STEP_TYPES.filter((step) => order.actions!.includes(step))
  }
  return caller ? fallbackSteps(order, caller, now) : []
}

// ---- working days ---------------------------------------------------------------------------

const CHINA_DAY = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' })

/** The China date (`YYYY-MM-DD`) of an instant. */
export function chinaDate(instant: Date): string {
  return CHINA_DAY.format(instant)
}

function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`)
  date.setUTCDate(date.getUTCDate() + days)
  return date.toISOString().slice(0, 10)
}

function isWeekday(day: string): boolean {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay()
  return weekday !== 0 && weekday !== 6
}

/** Weekdays in the days after `from` up to and including `to` (0 when `to` ≤ `from`). */
export function weekdaysBetween(from: string, to: string): number {
  let count = 0
  for (let day = addDays(from, 1); day <= to; day = addDays(day, 1)) {
    if (isWeekday(day)) count += 1
    if (count > 10000) break
  }
  return count
}

/**
 * The countdown of a phase due at `due` (exclusive) seen at `now`, counted the server's way
 * (today included when it counts; negative when overdue) but on weekdays only: an estimate
 * for when the server gives no `countdowns` (it knows the holiday calendar, we do not).
 */
export function estimateCountdown(phase: string, due: string, now: Date, provisional = false): Countdown {
  const dueAt = new Date(due)
  const last = chinaDate(new Date(dueAt.getTime() - 1000))
  const today = chinaDate(now)
  const overdue = now.getTime() >= dueAt.getTime()
  const left = overdue ? -weekdaysBetween(last, today) : weekdaysBetween(addDays(today, -1), last)
  return { phase, due, working_days_left: left, overdue, provisional, estimated: true }
}

/** The countdowns of the open phases: the server's, else estimated from the deadlines. */
export function countdownsOf(order: OrderLike, now: Date = new Date()): Countdown[] {
  if (Array.isArray(order.countdowns)) return order.countdowns
  if (order.state === 'closed') return []
  return order.deadlines
    .filter((deadline) => !deadline.done_at && deadline.phase !== 'appeal')
    .map((deadline) => estimateCountdown(deadline.phase, deadline.due, now, !!deadline.provisional))
}

/** The phase the order is working against now: the open one due first. */
export function currentCountdown(order: OrderLike, now: Date = new Date()): Countdown | null {
  const list = [...countdownsOf(order, now)]
  list.sort((a, b) => new Date(a.due).getTime() - new Date(b.due).getTime())
  return list[0] ?? null
}

/** `剩余 N 个工作日` / `今日到期` / `已逾期 N 个工作日` (N counted the server's way). */
export function countdownText(countdown: Pick<Countdown, 'working_days_left' | 'overdue'>): string {
  const days = countdown.working_days_left
  if (countdown.overdue) {
    return days === 0 ? '已逾期（当日）' : `已逾期 ${Math.abs(days)} 个工作日`
  }
  return days <= 0 ? '今日到期' : `剩余 ${days} 个工作日`
}

/** `danger` when overdue, `warning` at one working day or less, else `success`. */
export function countdownTone(countdown: Pick<Countdown, 'working_days_left' | 'overdue'>): 'danger' | 'warning' | 'success' {
  if (countdown.overdue) return 'danger'
  if (countdown.working_days_left <= 1) return 'warning'
  return 'success'
}

/** The flags raised on any phase of the order, most severe first, plus `overdue` when late. */
export function flagsOf(order: Pick<OrderLike, 'deadlines' | 'overdue'>): string[] {
  const kinds = new Set<string>()
  for (const deadline of order.deadlines) {
    if (deadline.done_at) continue
    for (const flag of deadline.flags ?? []) kinds.add(flag.kind)
  }
  const out = ['notice', 'supervision', 'warning'].filter((kind) => kinds.has(kind))
  if (order.overdue.length > 0) out.push('overdue')
  return out
}

// ---- labels ---------------------------------------------------------------------------------

export const STEP_LABELS: Record<string, string> = {
  dispatch: '派单',
  intake: '受理登记',
  accept: '签收（初审受理）',
  request_transfer: '申请转办 / 退单',
  decide_transfer: '转办审核',
  contact: '联系评价人',
  verify: '核实',
  dispose: '处置',
  rectified: '整改完成',
  appeal: '申诉',
  decide_appeal: '申诉复核',
  feedback: '反馈评价人',
  evaluate: '评价人评价整改',
  callback: '回访',
  callback_by_sms: '短信回访',
  close: '办结',
  answer: '答复办结',
  flag: '预警 / 督办',
  timed: '计时',
  retimed: '重新计时',
  link_problem: '纳入系统性问题',
  problem_done: '系统性问题整改完成',
  contact_confirmed: '联系电话已确认',
}

export const FLAG_LABELS: Record<string, string> = {
  warning: '预警',
  supervision: '督办',
  notice: '通报',
  overdue: '逾期',
}

export const FLAG_TONES: Record<string, 'warning' | 'danger' | 'info'> = {
  warning: 'warning',
  supervision: 'danger',
  notice: 'danger',
  overdue: 'danger',
}

export const CAUSES: Record<string, string> = {
  policy: '政策原因',
  process: '流程原因',
  system: '系统原因',
  attitude: '工作作风',
  environment: '环境设施',
  other: '其他',
}

export const DISPOSITIONS: Record<string, string> = {
  immediate: '立行立改',
  scheduled: '台账限期整改',
  explained: '解释说明',
  systemic: '系统性问题批量整改',
}

export const CALL_OUTCOMES: Record<string, string> = {
  satisfied: '满意',
  basically_satisfied: '基本满意',
  dissatisfied: '不满意',
  unreachable: '未接通',
}

export const RECTIFICATION_LEVELS: Record<string, string> = {
  satisfied: '满意',
  basically_satisfied: '基本满意',
  dissatisfied: '不满意',
}

export const EVALUATION_VIA: Record<string, string> = {
  link: '跟踪链接',
  follow_up: '追评',
  callback: '回访',
}

export const CATEGORIES: Record<string, string> = {
  waiting: '等候时间',
  attitude: '服务态度',
  materials: '材料',
  system: '系统设备',
  suggestion: '建议',
  other: '其他',
}

export const PRIORITIES: Record<string, string> = {
  low: '低',
  normal: '普通',
  high: '高',
  urgent: '紧急',
}

export const CLOSURE_OUTCOMES: Record<string, string> = {
  resolved: '整改办结',
  appeal_upheld: '申诉成立',
  answered: '已答复',
}

export const CALLBACK_RESULTS: Record<string, string> = {
  reached: '电话回访',
  sms_after_unreachable: '多次未接通，短信回访',
}

export const PROBLEM_STATES: Record<string, string> = { open: '整改中', done: '已完成' }

export const BASIS_KINDS: Record<string, string> = { item: '同一事项', indicator: '同一评价指标', category: '同一问题类别' }

/** Personal data as a reveal answers it (a rating's evaluator or a service's applicant). */
export interface Revealed {
  name?: string | null
  phone?: string | null
  id_number?: string | null
  audit_seq: number
}
