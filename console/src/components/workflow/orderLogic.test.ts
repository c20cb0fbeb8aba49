import { describe, expect, it } from 'vitest'
import {
  appealOpen,
  countdownText,
  countdownTone,
  countdownsOf,
  currentCountdown,
  estimateCountdown,
  fallbackSteps,
  flagsOf,
  stepsFor,
  weekdaysBetween,
  type Caller,
  type OrderLike,
} from './orderLogic'

// 2026-12-07 is a Monday; China is UTC+8.
const MONDAY_10 = new Date('2026-12-07T02:00:00Z')

function order(patch: Partial<OrderLike> = {}): OrderLike {
  return {
    id: 1,
    kind: 'bad_review',
    county: '410421',
    area_code: '410421',
    regions: ['410421', '410400'],
    department: 'D1',
    task_code: 'T1',
    unit: 'D1',
    category: 'waiting',
    priority: 'normal',
    real_name: true,
    indicators: [],
    text: '',
    reachable: true,
    received_at: '2026-12-04T02:00:00Z',
    opened_at: '2026-12-04T02:00:00Z',
    state: 'dispatched',
    deadlines: [
      { phase: 'contact', amount: 1, unit: 'working_days', due: '2026-12-07T16:00:00Z', flags: [] },
      { phase: 'rectify', amount: 5, unit: 'working_days', due: '2026-12-11T16:00:00Z', flags: [] },
      { phase: 'appeal', amount: 3, unit: 'working_days', due: '2026-12-09T16:00:00Z', flags: [] },
    ],
    notice_after: 2,
    policy_version: 'abc',
    transfers: 0,
    calls: [],
    reopened: 0,
    history: [],
    overdue: [],
    ...patch,
  } as OrderLike
}

const handler: Caller = { username: 'handler', role: 'department_handler', capabilities: ['read', 'orders.work', 'orders.appeal', 'reveal'] }
const supervisor: Caller = { username: 'sup', role: 'supervisor', capabilities: ['read', 'orders.transfer', 'calls.read'] }
const reviewer: Caller = { username: 'rev', role: 'reviewer', capabilities: ['read', 'appeals.decide', 'moderate'] }
const agent: Caller = { username: 'cb', role: 'callback_agent', capabilities: ['read', 'calls.read', 'callbacks', 'reveal'] }
const staff: Caller = { username: 'ws', role: 'window_staff', staff_id: 'S1', capabilities: ['read', 'orders.appeal'] }

describe('fallbackSteps', () => {
  it('offers a handler the first review of a dispatched order, and the appeal inside its window', () => {
    expect(fallbackSteps(order(), handler, MONDAY_10)).toEqual(['accept', 'request_transfer', 'appeal'])
  })

  it('follows the loop for the handler', () => {
    expect(fallbackSteps(order({ state: 'accepted' }), handler, MONDAY_10)).toEqual(['request_transfer', 'contact', 'verify', 'appeal'])
    expect(fallbackSteps(order({ state: 'verified' }), handler, MONDAY_10)).toEqual(['request_transfer', 'contact', 'dispose', 'appeal'])
    expect(fallbackSteps(order({ state: 'rectified' }), handler, MONDAY_10)).toEqual(['feedback'])
    expect(fallbackSteps(order({ state: 'called_back' }), handler, MONDAY_10)).toEqual(['close'])
    expect(fallbackSteps(order({ state: 'closed' }), handler, MONDAY_10)).toEqual([])
  })

  it('answers suggestions instead of verifying them, and never appeals them', () => {
    expect(fallbackSteps(order({ kind: 'suggestion', state: 'accepted' }), handler, MONDAY_10)).toEqual(['request_transfer', 'contact', 'answer'])
  })

  it('holds acceptance and disposition while a transfer waits, and lets the supervisor decide it', () => {
    const transfer = { requested_by: 'handler', at: '2026-12-04T03:00:00Z', reason: 'x', not_accepted: true }
    expect(fallbackSteps(order({ transfer }), handler, MONDAY_10)).toEqual(['appeal'])
    expect(fallbackSteps(order({ transfer }), supervisor, MONDAY_10)).toEqual(['decide_transfer'])
    expect(fallbackSteps(order(), supervisor, MONDAY_10)).toEqual([])
  })

  it('closes the appeal window at its due instant and after one appeal', () => {
    expect(appealOpen(order(), new Date('2026-12-09T15:59:59Z'))).toBe(true)
    expect(appealOpen(order(), new Date('2026-12-09T16:00:00Z'))).toBe(false)
    const appeal = { filed_by: 'handler', filed_at: '2026-12-05T00:00:00Z', reason: 'r', evidence: ['e'], prior_state: 'verified' as const }
    expect(appealOpen(order({ appeal }), MONDAY_10)).toBe(false)
  })

  it('lets window staff appeal only orders about themselves', () => {
    expect(fallbackSteps(order({ staff: 'S1' }), staff, MONDAY_10)).toEqual(['appeal'])
    expect(fallbackSteps(order({ staff: 'S2' }), staff, MONDAY_10)).toEqual([])
  })

  it('gives the reviewer the decision, but not on their own appeal', () => {
    const appeal = { filed_by: 'handler', filed_at: '2026-12-05T00:00:00Z', reason: 'r', evidence: ['e'], prior_state: 'verified' as const }
    expect(fallbackSteps(order({ state: 'appealing', appeal }), reviewer, MONDAY_10)).toEqual(['decide_appeal'])
    expect(fallbackSteps(order({ state: 'appealing', appeal: { ...appeal, filed_by: 'rev' } }), reviewer, MONDAY_10)).toEqual([])
  })

  it('stops calling after three unreachable attempts', () => {
    const call = { at: '2026-12-05T00:00:00Z', agent: 'cb', outcome: 'unreachable' as const }
    expect(fallbackSteps(order({ state: 'feedback_given' }), agent, MONDAY_10)).toEqual(['callback'])
    expect(fallbackSteps(order({ state: 'feedback_given', calls: [call, call] }), agent, MONDAY_10)).toEqual(['callback'])
    expect(fallbackSteps(order({ state: 'feedback_given', calls: [call, call, call] }), agent, MONDAY_10)).toEqual([])
  })
})

describe('stepsFor', () => {
  it('prefers the server’s actions, even an empty list, in loop order', () => {
    expect(stepsFor(order({ actions: ['verify', 'accept', 'timed'] }), handler, MONDAY_10)).toEqual(['accept', 'verify'])
    expect(stepsFor(order({ actions: [] }), handler, MONDAY_10)).toEqual([])
    expect(stepsFor(order(), handler, MONDAY_10)).toEqual(['accept', 'request_transfer', 'appeal'])
  })
})

describe('working-day countdowns', () => {
  it('counts weekdays after a day up to another', () => {
    expect(weekdaysBetween('2026-12-04', '2026-12-07')).toBe(1) // Sat, Sun, Mon
    expect(weekdaysBetween('2026-12-06', '2026-12-11')).toBe(5)
    expect(weekdaysBetween('2026-12-07', '2026-12-07')).toBe(0)
  })

  it('counts today when the phase is due at the close of today', () => {
    const countdown = estimateCountdown('contact', '2026-12-07T16:00:00Z', MONDAY_10)
    expect(countdown).toMatchObject({ working_days_left: 1, overdue: false, estimated: true })
    expect(countdownText(countdown)).toBe('剩余 1 个工作日')
    expect(countdownTone(countdown)).toBe('warning')
  })

  it('counts the days left through the weekend', () => {
    // Due at the close of Friday 12-11, seen on Saturday 12-05: Mon..Fri.
    const countdown = estimateCountdown('rectify', '2026-12-11T16:00:00Z', new Date('2026-12-05T04:00:00Z'))
    expect(countdown.working_days_left).toBe(5)
    expect(countdownTone(countdown)).toBe('success')
  })

  it('counts the working days since the last day on time when overdue', () => {
    // Last day on time Monday 12-07; now Thursday 12-10.
    const countdown = estimateCountdown('contact', '2026-12-07T16:00:00Z', new Date('2026-12-10T02:00:00Z'))
    expect(countdown).toMatchObject({ working_days_left: -3, overdue: true })
    expect(countdownText(countdown)).toBe('已逾期 3 个工作日')
    expect(countdownTone(countdown)).toBe('danger')
  })

  it('uses the server’s countdowns when present, and none for a closed order', () => {
    const server = [{ phase: 'rectify', due: '2026-12-11T16:00:00Z', working_days_left: 4, overdue: false }]
    expect(countdownsOf(order({ countdowns: server }), MONDAY_10)).toBe(server)
    expect(countdownsOf(order({ state: 'closed' }), MONDAY_10)).toEqual([])
    // Appeal windows are not countdowns; done phases neither.
    const estimated = countdownsOf(order(), MONDAY_10)
    expect(estimated.map((c) => c.phase)).toEqual(['contact', 'rectify'])
  })

  it('picks the open phase due first as the current one', () => {
    expect(currentCountdown(order(), MONDAY_10)?.phase).toBe('contact')
    const done = order()
    done.deadlines[0].done_at = '2026-12-05T00:00:00Z'
    expect(currentCountdown(done, MONDAY_10)?.phase).toBe('rectify')
  })

  it('words the day of the deadline and the day it passed', () => {
    expect(countdownText({ working_days_left: 0, overdue: false })).toBe('今日到期')
    expect(countdownText({ working_days_left: 0, overdue: true })).toBe('已逾期（当日）')
  })
})

describe('flagsOf', () => {
  it('lists the raised flags of open phases, most severe first, and overdue', () => {
    const flagged = order({ overdue: ['contact'] })
    flagged.deadlines[0].flags = [
      { kind: 'warning', at: '2026-12-07T00:00:00Z' },
      { kind: 'supervision', at: '2026-12-08T00:00:00Z' },
    ]
    flagged.deadlines[1].done_at = '2026-12-06T00:00:00Z'
    flagged.deadlines[1].flags = [{ kind: 'notice', at: '2026-12-06T00:00:00Z' }]
    expect(flagsOf(flagged)).toEqual(['supervision', 'warning', 'overdue'])
  })
})
