// The browser side of the tests: Debian's chromium driven by playwright-core, and a running
// hcp. Used by run.mjs (the suite of `make browser-tests`) and by hand for screenshots:
//   node browser/shot.mjs http://127.0.0.1:8090 city_supervisor /orders out.png
import { chromium } from 'playwright-core'
import { mkdtempSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

/** A headless chromium on a fresh profile, as the project's tests launch it. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'hcp-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    viewport: { width: 1440, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  })
  return context
}

const tokens = new Map()

/** A session token of `username` (signed in once through the API and reused). */
export async function token(base, username, password = process.env.HCP_PASSWORD ?? 'demo-2026') {
  if (tokens.has(username)) return tokens.get(username)
  const answer = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!answer.ok) throw new Error(`sign-in of ${username}: ${answer.status} ${await answer.text()}`)
  const { token: value } = await answer.json()
  tokens.set(username, value)
  return value
}

/** A new page of the console signed in as `username` (the token put where the console keeps it). */
export async function consolePage(context, base, username) {
  const value = await token(base, username)
  const page = await context.newPage()
  await page.addInitScript((session) => sessionStorage.setItem('hcp.session', session), value)
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`))
  return page
}

/** Waits until the page has loaded and shows no loading mask or skeleton. (Not "network idle":
 * the dashboard keeps its live counters' stream open.) */
export async function settled(page) {
  await page.waitForLoadState('load')
  await page.waitForTimeout(300)
  await page
    .waitForFunction(() => !document.querySelector('.el-loading-mask, .el-skeleton.is-animated'), null, { timeout: 20000 })
    .catch(() => {})
  await page.waitForTimeout(300)
}

export function screenshotsDir() {
  const dir = process.env.SCREENSHOTS ?? join(process.cwd(), '..', 'target', 'screenshots')
  mkdirSync(dir, { recursive: true })
  return dir
}
