// The browser tests, in the order they run (run.mjs starts the server and the browser).
// Each gets { context, base, key, shots, work } and throws on failure.
import { readFileSync } from 'node:fs'
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
  // The shell scrolls inside its main pane; let the page grow so the whole screen is captured.
  await page.addStyleTag({ content: '.shell { height: auto !important; min-height: 100vh } .main { overflow: visible !important }' })
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
  {
    name: 'a rule editor edits, tests, simulates and activates a county deadline, then rolls it back',
    async run({ context, base, shots, work }) {
      const path = '410421/deadline.rhai'
      const original = readFileSync(join(work, 'rules', path), 'utf8')
      const status = () => apiAs(base, 'rule_editor', '/api/v1/rules/status')
      const before = (await status()).active_version
      const versions = await apiAs(base, 'rule_editor', '/api/v1/rules/versions?limit=500')
      const beforeSeq = versions.items[versions.items.length - 1].seq
      const page = await open(context, base, 'rule_editor', '/rules')
      await page.click(`[data-test="rules-file-${path}"]`)
      const editor = page.locator('[data-test=rules-editor] .cm-content')
      await editor.waitFor()
      check((await editor.innerText()).includes('rectify_days'), 'the editor shows the county deadline')
      const replace = async (text) => {
        await editor.click()
        await page.keyboard.press('Control+A')
        await page.keyboard.insertText(text)
      }
      // Real-name 差评 in 4 working days: the county's own test still says 5, and fails.
      await replace(original.replace('{ 5 } else', '{ 4 } else'))
      await page.click('[data-test=rules-check]')
      await page.waitForSelector('[data-test=rules-test-failures]')
      const failures = await page.locator('[data-test=rules-test-failures]').innerText()
      check(failures.includes('410421/tests/deadline.json'), `the failing test is named with its file: ${failures}`)
      await shot(page, shots, 'rules-check-failed')
      // The call-back one working day later: the tests pass, last month's 差评 move.
      await replace(original.replace('rectify_days + 4', 'rectify_days + 5'))
      await page.click('[data-test=rules-check]')
      await page.waitForFunction(() => {
        const result = document.querySelector('[data-test=rules-check-result]')
        return result && !document.querySelector('[data-test=rules-test-failures]') && /通过/.test(result.textContent ?? '')
      })
      await page.click('[data-test=rules-simulate]')
      await page.waitForSelector('[data-test=rules-simulation]')
      await settled(page)
      const moved = await page.locator('[data-test=rules-moved] .el-table__body tr').count()
      check(moved > 0, 'the simulation lists the call-back deadlines of last month that move')
      await shot(page, shots, 'rules-simulated')
      await page.click('[data-test=rules-activate]')
      await page.click('.el-message-box__btns .el-button--primary')
      for (let i = 0; i < 50 && (await status()).active_version === before; i += 1) await page.waitForTimeout(200)
      const activated = (await status()).active_version
      check(activated !== before, 'the saved county deadline is active')
      check(readFileSync(join(work, 'rules', path), 'utf8').includes('rectify_days + 5'), 'the file on disk is the edited one')
      await settled(page)
      await shot(page, shots, 'rules-activated')
      // Back to the version before, from the history.
      await page.click('.el-tabs__item:has-text("版本历史")')
      await page.click(`[data-test=rules-compare-${beforeSeq}]`)
      await page.waitForSelector('[data-test=rules-rollback]')
      await shot(page, shots, 'rules-history-diff')
      await page.click('[data-test=rules-rollback]')
      await page.click('.el-message-box__btns .el-button--primary')
      for (let i = 0; i < 50 && (await status()).active_version !== before; i += 1) await page.waitForTimeout(200)
      check((await status()).active_version === before, 'rolled back to the version before')
      check(readFileSync(join(work, 'rules', path), 'utf8') === original, 'the file is restored')
    },
  },
  {
    name: 'each demo login lands on a populated dashboard of its role',
    async run({ context, base, shots }) {
      for (const user of USERS) {
        const page = await open(context, base, user, '/')
        if (user === 'rule_editor') {
          // Rule editors read no ratings: their dashboard is the rules' state.
          await page.waitForSelector('text=规则')
        } else {
          await page.waitForFunction(() => document.querySelectorAll('.kpi-card .kpi').length >= 8, null, { timeout: 30000 })
          const values = await page.locator('.kpi-card').allInnerTexts()
          const ratings = values.find((text) => text.startsWith('评价数') && !/^评价数\s*0\b/.test(text))
          check(ratings, `${user}'s dashboard shows ratings: ${values.join(' | ')}`)
          check(page.errors.length === 0, `no script error on ${user}'s dashboard: ${page.errors}`)
        }
        await page.waitForTimeout(500)
        await shot(page, shots, `dashboard-${user}`)
        await page.close()
      }
    },
  },
  {
    name: 'window staff see only their own results, up to yesterday',
    async run({ context, base, shots }) {
      const me = await apiAs(base, 'window_staff', '/api/v1/me')
      const page = await consolePage(context, base, 'window_staff')
      const asked = []
      page.on('request', (request) => {
        const url = new URL(request.url())
        if (url.pathname.startsWith('/api/')) asked.push(url)
      })
      await page.goto(`${base}/console/`)
      await settled(page)
      await page.waitForSelector('[data-test=live-badge]')
      check((await page.locator('[data-test=live-badge]').innerText()).includes('昨日'), 'the dashboard says its figures end yesterday')
      check(!asked.some((url) => url.pathname === '/api/v1/live'), 'window staff never open the live stream')
      const today = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date())
      for (const url of asked.filter((url) => url.pathname.startsWith('/api/v1/stats'))) {
        const to = url.searchParams.get('to')
        check(to && to < today, `a figure asked up to yesterday, not ${url}`)
        const unit = url.searchParams.get('unit')
        check(!unit || unit === me.staff_id, `window staff ask only for themselves, not ${url}`)
      }
      await shot(page, shots, 'window-staff-dashboard')
      // Their orders are the ones about them, without the citizen's contact.
      const orders = await apiAs(base, 'window_staff', '/api/v1/orders?limit=50')
      for (const order of orders.items) {
        check(order.staff === me.staff_id, `window staff see orders about themselves only, not ${order.id} (staff ${order.staff})`)
        check(!order.contact, `no contact on order ${order.id} for window staff`)
      }
      await page.goto(`${base}/console/orders`)
      await settled(page)
      await shot(page, shots, 'window-staff-orders')
      // A figure of today, asked by hand, is refused by the server.
      const refused = await fetch(`${base}/api/v1/stats?from=${today}&to=${today}`, {
        headers: { authorization: `Bearer ${await token(base, 'window_staff')}` },
      })
      check([400, 403].includes(refused.status), `today's figures are refused to window staff: ${refused.status}`)
    },
  },
  {
    name: 'a county supervisor sees its county only, through every screen',
    async run({ context, base, shots }) {
      const page = await consolePage(context, base, 'baofeng_supervisor')
      const others = ['410402', '410403', '410404', '410411', '410422', '410423', '410425', '410481', '410482']
      const leaks = []
      page.on('response', async (response) => {
        const url = new URL(response.url())
        if (!url.pathname.startsWith('/api/') || !response.ok()) return
        // Public anyway: the org tree (/public/regions lists it) and the city's published
        // ranking of its counties (/public/rankings).
        if (url.pathname.startsWith('/api/v1/org/') || url.pathname.startsWith('/api/v1/assessments')) return
        const type = response.headers()['content-type'] ?? ''
        if (!type.includes('json')) return
        const text = await response.text().catch(() => '')
        for (const code of others) {
          if (text.includes(`"${code}"`)) leaks.push(`${url.pathname}${url.search} names ${code}`)
        }
      })
      for (const path of ['/', '/orders', '/analysis', '/ranking', '/reports', '/problems', '/adapters', '/audit', '/uplink']) {
        await page.goto(`${base}/console${path}`)
        await settled(page)
        await page.waitForTimeout(500)
        await shot(page, shots, `county-supervisor${path === '/' ? '-dashboard' : path.replaceAll('/', '-')}`)
      }
      check(leaks.length === 0, `the county supervisor's screens received other counties' records:\n${leaks.join('\n')}`)
      // Another county asked for by URL is refused, and the screen says so.
      await page.goto(`${base}/console/analysis?unit=410482`)
      await settled(page)
      const text = await page.locator('.main').innerText()
      check(/无权|不在|范围/.test(text), `another county's figures are refused on the screen: ${text.slice(0, 300)}`)
    },
  },
  {
    name: 'every main screen renders for the role that uses it',
    async run({ context, base, shots }) {
      const tour = [
        ['city_supervisor', '/analysis', 'analysis'],
        ['city_supervisor', '/analysis?tab=words', 'analysis-hot-words'],
        ['city_supervisor', '/ranking', 'ranking'],
        ['city_supervisor', '/reports', 'reports'],
        ['city_supervisor', '/orders', 'orders-inbox'],
        ['city_supervisor', '/problems', 'problems'],
        ['handler', '/orders', 'orders-handler'],
        ['callback', '/calls', 'call-desk'],
        ['reviewer', '/appeals', 'appeals'],
        ['reviewer', '/moderation', 'moderation'],
        ['rule_editor', '/rules', 'rules'],
        ['admin', '/adapters', 'adapters'],
        ['admin', '/admin', 'admin'],
        ['admin', '/audit', 'audit'],
        ['admin', '/uplink', 'uplink'],
        ['admin', '/privacy', 'privacy'],
        ['admin', '/posters', 'posters'],
        ['city_supervisor', '/hall?unit=', 'hall-screen'],
      ]
      const hall = (await apiAs(base, 'admin', '/api/v1/devices/online-rate'))[0]?.hall
      for (const [user, path, name] of tour) {
        const page = await open(context, base, user, path === '/hall?unit=' ? `/hall?unit=${hall ?? ''}` : path)
        await page.waitForTimeout(800)
        const errors = await page.locator('.el-alert--error').allInnerTexts()
        check(errors.length === 0, `${name} as ${user} shows no error: ${errors.join(' | ')}`)
        check(page.errors.length === 0, `${name} as ${user} runs without a script error: ${page.errors}`)
        await shot(page, shots, name)
        await page.close()
      }
    },
  },
  {
    name: 'a citizen rates a window by its QR code on a phone, the 差评 is worked to the end and called back, and the dashboard shows it',
    async run({ context, base, key, shots }) {
      const me = await apiAs(base, 'handler', '/api/v1/me')
      const windows = await apiAs(base, 'admin', `/api/v1/windows/qr?unit=${me.scope}&limit=50`)
      const window = windows.items.find((item) => item.url)
      check(window, `a window of the handler's department has a QR code: ${JSON.stringify(windows).slice(0, 300)}`)
      const cases = await apiAs(base, 'admin', `/api/v1/cases?dim=department&unit=${me.scope}&limit=1`)
      const known = cases.items[0]
      check(known, 'the department has cases to take an item from')
      // The business system reports the service just done at the window.
      const project = `BROWSER-${Date.now()}`
      const reported = await fetch(`${base}/api/v1/sources/demo-devices/service-events`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify([{
          event_id: `svc-${project}`, project_no: project, project_name: '不动产登记', task_code: known.task_code,
          department: me.scope, area_code: known.area_code, window: window.window, service_number: 1,
          service_name: '办结', status: 'completed', occurred_at: new Date(Date.now() - 10 * 60 * 1000).toISOString(),
        }]),
      })
      check(reported.ok, `the service event is taken: ${reported.status} ${await reported.text()}`)

      // The citizen, on a 375-px phone, scans the window's code.
      const phone = await context.newPage()
      await phone.setViewportSize({ width: 375, height: 812 })
      const path = new URL(window.url).pathname
      await phone.goto(`${base}${path}`)
      const page = await phone.content()
      check(page.includes(window.name), 'the page names the window')
      check(!page.includes(project) && !page.includes(window.window), 'no project number or unit code on the page')
      const width = await phone.evaluate(() => document.documentElement.scrollWidth)
      check(width <= 375, `the page fits a 375-px screen (${width} px wide)`)
      await phone.screenshot({ path: join(shots, 'citizen-window-qr.png'), fullPage: true })
      await phone.locator('input[name=act]:not([disabled])').first().check()
      await phone.locator('input[name=level][value=dissatisfied]').check()
      await phone.locator('button[type=submit]').click()
      await phone.waitForLoadState('load')
      check((await phone.content()).includes('请至少选择一项原因'), 'a 差评 without a reason is refused, in Chinese')
      await phone.locator('input[name=act]:not([disabled])').first().check()
      await phone.locator('input[name=level][value=dissatisfied]').check()
      await phone.locator('input[name=reason]').first().check()
      const comment = `浏览器测试${project.slice(-6)}：窗口等候时间太长`
      await phone.fill('textarea[name=text]', comment)
      await phone.fill('input[name=phone]', '13912345678')
      await phone.locator('button[type=submit]').click()
      await phone.waitForLoadState('load')
      const thanks = await phone.content()
      check(thanks.includes('感谢您的评价') && thanks.includes('验证码已发送'), 'thanked, and a code was sent for the call-back')
      await phone.screenshot({ path: join(shots, 'citizen-thanks.png'), fullPage: true })
      const tracking = await phone.locator('a.button').getAttribute('href')
      check(tracking && tracking.includes('/t/'), `the thank-you page links the tracking page: ${tracking}`)
      await phone.goto(new URL(tracking, base).toString())
      // The code the SMS carried (the demo's gateway keeps what it was asked to send).
      const orderId = (await phone.content()).match(/工单 (\d+)/)?.[1]
      check(orderId, 'the tracking page names the work order')
      let code
      for (let i = 0; i < 120 && !code; i += 1) {
        const sent = await apiAs(base, 'admin', '/demo/sms')
        code = sent
          .filter((message) => String(message.text).includes(`工单${orderId}`))
          .map((message) => String(message.text).match(/验证码(\d{6})/)?.[1])
          .find(Boolean)
        if (!code) await phone.waitForTimeout(500)
      }
      check(code, 'the confirmation code was texted')
      await phone.fill('input[name=code]', '000000' === code ? '111111' : '000000')
      await phone.locator('form.phone button').click()
      await phone.waitForLoadState('load')
      check((await phone.content()).includes('验证码不正确'), 'a wrong code is refused')
      await phone.fill('input[name=code]', code)
      await phone.locator('form.phone button').click()
      await phone.waitForLoadState('load')
      check((await phone.content()).includes('已确认'), 'the number is confirmed')
      await phone.screenshot({ path: join(shots, 'citizen-tracking.png'), fullPage: true })

      // The handler finds it in the inbox and works it, step by step, in the console.
      const open = await apiAs(base, 'handler', '/api/v1/orders?open=true&limit=200')
      const order = open.items.find((item) => item.text.includes(project.slice(-6)))
      check(order, 'the 差评 is an open order of the handler')
      check(order.reachable, 'the confirmed number makes the order reachable')
      const handler = await consolePage(context, base, 'handler')
      await handler.goto(`${base}/console/orders`)
      await settled(handler)
      await handler.waitForSelector(`text=${order.id}`)
      await shot(handler, shots, 'handler-inbox')
      await handler.goto(`${base}/console/orders/${order.id}`)
      await settled(handler)
      const LABELS = { accept: '签收', verify: '核实', dispose: '处置', rectified: '整改完成', feedback: '反馈评价人', close: '办结' }
      const take = async (page, step) => {
        await page.waitForSelector('[data-test=step-forms]')
        await page.locator('.step-forms .el-tabs__item', { hasText: LABELS[step] }).first().click()
        const pane = page.locator('.step-forms .el-tab-pane:visible')
        for (const area of await pane.locator('textarea').all()) await area.fill(`浏览器测试：${LABELS[step]}`)
        const answered = page.waitForResponse((response) => response.url().endsWith(`/orders/${order.id}/actions`) && response.request().method() === 'POST')
        await pane.locator(`[data-test=submit-${step}]`).click()
        const confirm = page.locator('.el-message-box__btns .el-button--primary')
        if (await confirm.isVisible({ timeout: 1500 }).catch(() => false)) await confirm.click()
        const response = await answered
        check(response.ok(), `${step}: ${response.status()} ${await response.text()}`)
        await settled(page)
      }
      for (const step of ['accept', 'verify', 'dispose', 'feedback']) {
        const now = await apiAs(base, 'handler', `/api/v1/orders/${order.id}`)
        if (step === 'feedback' && now.actions.includes('rectified')) await take(handler, 'rectified')
        await take(handler, step)
      }
      await shot(handler, shots, 'handler-order-worked')
      // The call-back agent calls the citizen back.
      const agent = await consolePage(context, base, 'callback')
      await agent.goto(`${base}/console/calls`)
      await settled(agent)
      await agent.locator(`text=${order.id}`).first().click()
      await settled(agent)
      await shot(agent, shots, 'call-desk-order')
      const called = agent.waitForResponse((response) => response.url().endsWith(`/orders/${order.id}/actions`) && response.request().method() === 'POST')
      await agent.click('[data-test=outcome-satisfied]')
      const confirm = agent.locator('.el-message-box__btns .el-button--primary')
      if (await confirm.isVisible({ timeout: 1500 }).catch(() => false)) await confirm.click()
      check((await called).ok(), 'the call-back is recorded')
      // The handler closes it with its root cause.
      await handler.reload()
      await settled(handler)
      await take(handler, 'close')
      const closed = await apiAs(base, 'handler', `/api/v1/orders/${order.id}`)
      check(closed.state === 'closed', `the order is closed: ${closed.state}`)
      await shot(handler, shots, 'order-closed')

      // The city's dashboard counts today's 差评, and the public page lists the rectified one.
      const stats = await apiAs(base, 'city_supervisor', '/api/v1/stats')
      check(stats.metrics.bad >= 1, 'this month has the 差评')
      const board = await consolePage(context, base, 'city_supervisor')
      await board.goto(`${base}/console/`)
      await settled(board)
      await board.waitForFunction(() => document.querySelectorAll('.kpi-card .kpi').length >= 8)
      const today = await board.locator('.kpi-card').allInnerTexts()
      const bad = today.find((text) => text.startsWith('差评'))
      check(bad && !/^差评\s*0\b/.test(bad), `today's 差评 on the dashboard: ${bad}`)
      const publicPage = await context.newPage()
      await publicPage.goto(`${base}/public`)
      await publicPage.waitForLoadState('load')
      // The public sees ended periods only (figures moving while it watches would tell who
      // rated what): last month's rectified 差评 are listed, this one waits for its month to end.
      const lastMonth = await (await fetch(`${base}/api/v1/public/rectified?limit=50`)).json()
      check(lastMonth.items.length > 0 && lastMonth.period < new Date().toISOString().slice(0, 7), `last month's rectified 差评 are public: ${lastMonth.period}`)
      check(!JSON.stringify(lastMonth).includes('浏览器测试'), 'a 差评 of the running month is not public yet')
      check((await publicPage.content()).includes('整改'), 'the public page shows the rectification disclosure')
      await publicPage.screenshot({ path: join(shots, 'public.png'), fullPage: true })
    },
  },
  {
    name: 'an administrator erases a person\'s data at their request, and what is held stays listed',
    async run({ context, base, shots }) {
      // A real-name rating of the demo city and its evaluator's number, opened as a call-back would.
      const ratings = await apiAs(base, 'admin', '/api/v1/ratings?limit=200')
      const rated = ratings.items.find((r) => r.evaluator?.phone)
      check(rated, 'the demo city has a real-name rating with a number')
      const reveal = { method: 'POST', body: JSON.stringify({ reason: '浏览器测试：删除前核对' }) }
      const before = await apiAs(base, 'admin', `/api/v1/ratings/${rated.id}/reveal`, reveal)
      check(/^1\d{10}$/.test(before.phone ?? ''), `the number opens before: ${JSON.stringify(before)}`)
      const page = await open(context, base, 'admin', '/privacy')
      const held = await page.locator('.retention').innerText()
      check(held.includes('评价人手机号') && /\d{4}-\d{2}/.test(held), `the months held are listed: ${held}`)
      await page.fill('input[name=phone]', before.phone)
      await page.fill('input[name=reference]', '浏览器测试 申请 001')
      await page.click('.erasure .el-button--danger')
      await page.click('.el-message-box__btns .el-button--primary')
      await page.waitForSelector('.el-message--success', { timeout: 15000 })
      const said = await page.locator('.el-message--success').innerText()
      check(said.includes('已删除'), `the erasure is confirmed: ${said}`)
      await settled(page)
      const records = await page.locator('.destructions').innerText()
      check(records.includes('本人申请') && records.includes('浏览器测试 申请 001'), `the erasure is listed: ${records}`)
      check(!records.includes(before.phone), 'the number is not shown in full')
      const after = await apiAs(base, 'admin', `/api/v1/ratings/${rated.id}/reveal`, reveal)
      check(after.phone === null && (after.erased ?? []).includes('phone'), `the number no longer opens: ${JSON.stringify(after)}`)
      check(page.errors.length === 0, `no script error: ${page.errors}`)
      await shot(page, shots, 'privacy-erased')
      await page.close()
      // A supervisor reads what is held, without the erasure form.
      const supervisor = await open(context, base, 'city_supervisor', '/privacy')
      check((await supervisor.locator('.erasure').count()) === 0, 'a supervisor has no erasure form')
      check((await supervisor.locator('.retention').innerText()).includes('评价人姓名'), 'a supervisor reads the retention')
      await supervisor.close()
    },
  },
]
