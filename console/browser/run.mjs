// The browser tests of `make browser-tests`: the hcp binary given on the command line serves a
// small demo city (35 days of history, at today's date, on a copy of rules/), and Debian's
// chromium, driven by playwright-core, works through the console and the citizen's pages as
// their users would. Screenshots of every main screen go to target/screenshots/.
//
//   node browser/run.mjs ../target/debug/hcp [test-name-filter]
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launch, screenshotsDir } from './lib.mjs'
import { tests } from './tests.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..', '..')
const binary = resolve(process.argv[2] ?? join(root, 'target', 'debug', 'hcp'))
const only = process.argv[3]

/** Starts `hcp demo` on a throwaway folder; resolves once it prints its address. */
async function startDemo() {
  const work = mkdtempSync(join(tmpdir(), 'hcp-browser-'))
  cpSync(join(root, 'rules'), join(work, 'rules'), { recursive: true })
  const config = join(work, 'hcp.toml')
  writeFileSync(
    config,
    [
      `rules_dir = ${JSON.stringify(join(work, 'rules'))}`,
      '[demo]',
      'history_days = 35',
      'services_per_day = 300',
      'live_per_second = 0',
      `adapters_dir = ${JSON.stringify(join(root, 'target', 'adapters'))}`,
      '[limits]',
      // Every test signs its users in; the limits themselves are tested in tests/tests/.
      'login_per_address_per_minute = 1000',
      'public_posts_per_minute = 1000',
      'public_reads_per_minute = 10000',
      '',
    ].join('\n'),
  )
  const child = spawn(binary, ['demo', '--config', config, '--listen', '127.0.0.1:0', '--data', join(work, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HCP_LOG: process.env.HCP_LOG ?? 'warn' },
  })
  let out = ''
  let log = ''
  child.stderr.on('data', (chunk) => {
    log += chunk
    if (log.length > 200_000) log = log.slice(-100_000)
  })
  const base = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`hcp demo did not start in 5 minutes:\n${out}\n${log.slice(-4000)}`)), 300_000)
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = out.match(/listening on (http:\/\/[0-9.:]+)/)
      // The demo prints its logins and keys after the history is seeded.
      if (match && out.includes('ratings stored')) {
        clearTimeout(timer)
        resolvePromise(match[1])
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`hcp demo exited with ${code}:\n${out}\n${log.slice(-4000)}`))
    })
  })
  const key = out.match(/demo source demo-devices: X-Api-Key (\S+)/)?.[1]
  return {
    base,
    key,
    work,
    log: () => log,
    stop() {
      child.kill('SIGTERM')
      rmSync(work, { recursive: true, force: true })
    },
  }
}

const started = Date.now()
const demo = await startDemo()
console.log(`demo city at ${demo.base} (seeded in ${((Date.now() - started) / 1000).toFixed(0)} s)`)
const shots = screenshotsDir()
const context = await launch()
const failures = []
let ran = 0
try {
  for (const test of tests) {
    if (only && !test.name.includes(only)) continue
    ran += 1
    const at = Date.now()
    const pagesBefore = new Set(context.pages())
    try {
      await test.run({ context, base: demo.base, key: demo.key, shots, work: demo.work })
      console.log(`ok   ${test.name} (${((Date.now() - at) / 1000).toFixed(1)} s)`)
    } catch (error) {
      failures.push(test.name)
      console.log(`FAIL ${test.name}: ${error?.stack ?? error}`)
      for (const page of context.pages()) {
        if (pagesBefore.has(page)) continue
        await page
          .screenshot({ path: join(shots, `FAILED-${test.name}-${context.pages().indexOf(page)}.png`), fullPage: true })
          .catch(() => {})
      }
    } finally {
      for (const page of context.pages()) if (!pagesBefore.has(page)) await page.close().catch(() => {})
    }
  }
} finally {
  await context.close()
  if (failures.length) console.log(`server log (last lines):\n${demo.log().slice(-3000)}`)
  demo.stop()
}
console.log(`${ran - failures.length} of ${ran} browser tests passed; screenshots in ${shots}`)
if (failures.length || ran === 0) process.exit(1)
