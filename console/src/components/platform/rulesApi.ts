// The rules endpoints, typed from the API document, with the few shapes the screen names.
import { ApiFailure, api, data, type Schemas } from '@/api/client'

export type RulesStatus = Schemas['RulesStatus']
export type VersionRecord = Schemas['Page_PolicyVersionRecord']['items'][number]
export type Simulation = Schemas['Simulation']
export type AssessmentRun = Schemas['AssessmentRun']
export type RulesCheck = Schemas['RulesCheck']
export type TestFailure = Schemas['TestFailureView']
export type WhatIfAnswer = Schemas['WhatIf']
export type UnitKind = Schemas['Dim']

/** Every file of a rules version: path (relative to the rules folder) → content. */
export type RulesFiles = Record<string, string>

export async function rulesStatus(): Promise<RulesStatus> {
  // `operationId: status` is shared with the uplink's status, so the generated operation type
  // of this path is the uplink's: the answer is the rules status all the same.
  return data(await api.GET('/api/v1/rules/status')) as unknown as RulesStatus
}

/** All files of a version; the active one without `version`. */
export async function rulesFiles(version?: string): Promise<{ version: string; files: RulesFiles }> {
  return data(await api.GET('/api/v1/rules/files', { params: { query: version ? { version } : {} } }))
}

/** Validates a whole candidate folder and runs its tests, without activating it. */
export async function checkRules(files: RulesFiles): Promise<RulesCheck> {
  return data(await api.POST('/api/v1/rules/check', { body: { files } }))
}

/** The assessment ranking and vetoes under the candidate beside the current ones. */
export async function whatIf(files: RulesFiles, period: string, unitKind: UnitKind): Promise<WhatIfAnswer> {
  return data(await api.POST('/api/v1/rules/what-if', { body: { files, period, unit_kind: unitKind } }))
}

/** Saves one folder (a county's, or `default/` without county): validated, tested, activated. */
export async function saveRules(county: string | undefined, files: RulesFiles): Promise<RulesStatus> {
  return data(await api.PUT('/api/v1/rules/files', { body: county ? { county, files } : { files } })) as unknown as RulesStatus
}

export async function simulate(files: RulesFiles, from: string, to: string, limit = 200): Promise<Simulation> {
  return data(await api.POST('/api/v1/rules/simulate', { body: { files, from, to, limit } }))
}

export async function rollback(version: string, county?: string) {
  return data(await api.POST('/api/v1/rules/rollback', { body: county ? { version, county } : { version } }))
}

/** Every activation, oldest first (all pages). */
export async function allVersions(): Promise<VersionRecord[]> {
  const out: VersionRecord[] = []
  let cursor: string | undefined
  for (let page = 0; page < 20; page++) {
    const answer = data(await api.GET('/api/v1/rules/versions', { params: { query: { limit: 500, cursor } } }))
    out.push(...answer.items)
    if (!answer.next_cursor) break
    cursor = answer.next_cursor
  }
  return out
}

/** An endpoint the running server does not have yet (the lead adds it with a restart). */
export function notDeployed(error: unknown): boolean {
  return error instanceof ApiFailure && error.status === 404 && /no such route/.test(error.message)
}
