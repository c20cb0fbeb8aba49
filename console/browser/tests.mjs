// The browser tests, in the order they run (run.mjs starts the server and the browser).
// Each gets { context, base, key, shots, work } and throws on failure.
import { join } from 'node:path'
import { consolePage, settled, token } from './lib.mjs'

export const USERS = ['admin', 'city_supervisor', 'baofeng_supervisor', 'handler', 'window_staff', 'callback', 'reviewer', 'rule_editor']

function check(condition, message) {
  if (!condition) throw new Error(message)
}

/** The JSON of an API call as `user` (outside the browser: to find data the test needs). */
export async function apiAs(base, user, path, init = {}) {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${await token(base, user)}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path} as ${user}: ${response.status} ${text.slice(0, 300)}`)
  return text ? JSON.parse(text) : null
}

async function open(context, base, user, path) {
  const page = await consolePage(context, base, user)
  const errors = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${base}/console${path}`)
  await settled(page)
  page.errors = errors
  return page
}

async function shot(page, shots, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
}

/** The menu titles a user sees. */
async function menu(page) {
  return page.locator('.el-menu-item').allInnerTexts()
}

export const tests = [
  {
    name: 'the first load of sign-in and dashboard stays within 500 KB gzipped',
    async run({ context, base }) {
      const page = await context.newPage()
      const sizes = new Map()
      page.on('requestfinished', async (request) => {
        const url = new URL(request.url())
        if (!url.pathname.startsWith('/console')) return
        const { responseBodySize, responseHeadersSize } = await request.sizes()
        sizes.set(url.pathname, responseBodySize + responseHeadersSize)
      })
      await page.goto(`${base}/console/`)
      await page.waitForURL(/\/console\/login/)
      await settled(page)
      await page.fill('input[name=username]', 'city_supervisor')
      await page.fill('input[name=password]', 'demo-2026')
      await page.click('button[type=submit]')
      await page.waitForURL((url) => url.pathname === '/console/')
      await settled(page)
      await page.waitForTimeout(1000)
      const total = [...sizes.values()].reduce((sum, size) => sum + size, 0)
      const biggest = [...sizes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)
      console.log(`     console first load: ${(total / 1024).toFixed(0)} KB over ${sizes.size} files; largest ${biggest.map(([path, size]) => `${path.split('/').pop()} ${(size / 1024).toFixed(0)} KB`).join(', ')}`)
      check(total <= 500 * 1024, `login + dashboard load ${(total / 1024).toFixed(0)} KB`)
    },
  },
  {
    name: 'sign-in through the form lands on the dashboard',
    async run({ context, base, shots }) {
      const page = await context.newPage()
      await page.goto(`${base}/console/`)
      await page.waitForURL(/\/console\/login/)
      await shot(page, shots, 'login')
      await page.fill('input[name=username]', 'city_supervisor')
      await page.fill('input[name=password]', 'wrong password')
      await page.click('button[type=submit]')
      await page.waitForSelector('[data-test=login-error]')
      const refusal = await page.locator('[data-test=login-error]').innerText()
      check(/无法|用户名|密码|无权|登录/.test(refusal), `a wrong password says why in Chinese: ${refusal}`)
      await page.fill('input[name=password]', 'demo-2026')
      await page.click('button[type=submit]')
      await page.waitForURL((url) => url.pathname === '/console/')
      await settled(page)
      const who = await page.locator('[data-test=who]').innerText()
      check(who.includes('city_supervisor') && who.includes('平顶山市'), `the header names the user and scope: ${who}`)
    },
  },
  {
    name: 'each demo login sees the menu of its role',
    async run({ context, base }) {
      const expected = {
        admin: { has: ['系统管理', '规则', '差评工单', '审计日志'], lacks: [] },
        city_supervisor: { has: ['差评工单', '统计分析', '考核排名', '审计日志'], lacks: ['系统管理', '申诉复核', '评论审核'] },
        baofeng_supervisor: { has: ['差评工单', '统计分析'], lacks: ['系统管理', '窗口二维码'] },
        handler: { has: ['差评工单', '系统性问题'], lacks: ['系统管理', '审计日志', '回访工作台', '申诉复核'] },
        window_staff: { has: ['差评工单'], lacks: ['系统管理', '审计日志', '回访工作台', '系统性问题', '省级上报'] },
        callback: { has: ['回访工作台', '差评工单'], lacks: ['系统管理', '申诉复核', '评论审核'] },
        reviewer: { has: ['申诉复核', '评论审核'], lacks: ['系统管理', '回访工作台'] },
        rule_editor: { has: ['规则'], lacks: ['差评工单', '系统管理', '统计分析', '回访工作台'] },
      }
      for (const user of USERS) {
        const page = await open(context, base, user, '/')
        const items = await menu(page)
        for (const title of expected[user].has) check(items.includes(title), `${user} sees ${title} in ${items}`)
        for (const title of expected[user].lacks) check(!items.includes(title), `${user} does not see ${title} in ${items}`)
        await page.close()
      }
    },
  },
  {
    name: 'a screen the role may not use is not reachable by its URL',
    async run({ context, base }) {
      const page = await open(context, base, 'window_staff', '/admin')
      check(new URL(page.url()).pathname === '/console/', `window staff sent from /admin to the dashboard, not ${page.url()}`)
      const editor = await open(context, base, 'rule_editor', '/orders')
      check(new URL(editor.url()).pathname === '/console/', `a rule editor is sent from /orders to the dashboard, not ${editor.url()}`)
    },
  },
]
