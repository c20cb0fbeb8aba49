// The one API client of the console: typed from the OpenAPI document (`schema.d.ts`, generated
// by `npm run gen` from `openapi.json`, which a server test keeps equal to the API), one error
// shape, one list/cursor convention.
import createClient, { type Middleware } from 'openapi-fetch'
import type { components, paths } from './schema'

export type Schemas = components['schemas']
export type { paths }

const TOKEN_KEY = 'hcp.session'

export function sessionToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function setSessionToken(token: string | null) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token)
  else sessionStorage.removeItem(TOKEN_KEY)
}

/** An answer that is not 2xx, in the API's one error shape `{error: {code, message, field?}}`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

/** Called when the session has ended (401): the app goes back to the sign-in page. */
let onSignedOut: () => void = () => {}
export function whenSignedOut(handler: () => void) {
  onSignedOut = handler
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = sessionToken()
    if (token && !request.headers.has('authorization')) {
      request.headers.set('authorization', `Bearer ${token}`)
    }
    return request
  },
  async onResponse({ response, request }) {
    if (response.ok) return response
    let code = `http_${response.status}`
    let message = response.statusText || '请求失败'
    let field: string | undefined
    try {
      const body = await response.clone().json()
      if (body?.error) {
        code = body.error.code ?? code
        message = body.error.message ?? message
        field = body.error.field
      }
    } catch {
      // Not JSON: keep the status line.
    }
    if (response.status === 401 && !request.url.endsWith('/auth/login')) {
      setSessionToken(null)
      onSignedOut()
    }
    const retry = Number(response.headers.get('retry-after') ?? '') || undefined
    throw new ApiFailure(response.status, code, message, field, retry)
  },
}

export const api = createClient<paths>({ baseUrl: '' })
api.use(auth)

/** The data of an answer (errors were thrown by the middleware). */
export function data<T>(result: { data?: T; error?: unknown }): T {
  if (result.data === undefined) throw new ApiFailure(0, 'empty', '服务器未返回数据')
  return result.data
}

/** One page of a list: `{items, next_cursor}` (`?limit=&cursor=`). */
export interface PageOf<T> {
  items: T[]
  next_cursor?: string | null
}

/** Plain GET of a path the typed client cannot express (downloads); same auth and errors. */
export async function raw(path: string, init?: RequestInit): Promise<Response> {
  const headers = new Headers(init?.headers)
  const token = sessionToken()
  if (token) headers.set('authorization', `Bearer ${token}`)
  const response = await fetch(path, { ...init, headers })
  if (!response.ok) {
    let code = `http_${response.status}`
    let message = response.statusText
    try {
      const body = await response.json()
      code = body?.error?.code ?? code
      message = body?.error?.message ?? message
    } catch {
      // not JSON
    }
    if (response.status === 401) {
      setSessionToken(null)
      onSignedOut()
    }
    throw new ApiFailure(response.status, code, message)
  }
  return response
}

/** Chinese text of an error for a person. */
export function describe(error: unknown): string {
  if (error instanceof ApiFailure) {
    const prefix: Record<number, string> = {
      400: '请求有误',
      401: '登录已失效，请重新登录',
      403: '无权执行此操作',
      404: '未找到',
      409: '数据已变化',
      422: '无法处理',
      429: '操作过于频繁，请稍后再试',
      503: '服务暂不可用，请稍后重试',
    }
    const head = prefix[error.status] ?? (error.status >= 500 ? '服务器内部错误' : '请求失败')
    const field = error.field ? `（字段 ${error.field}）` : ''
    return error.status >= 500 && error.status !== 503
      ? head
      : `${head}：${error.message}${field}`
  }
  if (error instanceof Error) return `网络错误：${error.message}`
  return '未知错误'
}
