// A screenshot of one console screen as one user, for development:
//   node browser/shot.mjs BASE USER PATH OUT.png [width]
// BASE is hcp itself (http://127.0.0.1:8090, console at /console/) or a Vite dev server.
import { launch, consolePage, settled } from './lib.mjs'

const [base, user, path, out, width] = process.argv.slice(2)
const context = await launch()
try {
  const page = await consolePage(context, process.env.HCP_API ?? base, user)
  if (width) await page.setViewportSize({ width: Number(width), height: 900 })
  const url = path.startsWith('/console') || path.startsWith('/w/') || path.startsWith('/r/') || path.startsWith('/t/') || path.startsWith('/public')
    ? `${base}${path}`
    : `${base}/console${path}`
  page.on('console', (message) => { if (message.type() === 'error') console.error(`[console] ${message.text()}`) })
  await page.goto(url)
  await settled(page)
  await page.waitForTimeout(800)
  await page.screenshot({ path: out, fullPage: true })
  console.log(`saved ${out}`)
} finally {
  await context.close()
}
