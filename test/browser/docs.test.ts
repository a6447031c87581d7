// /docs in a real headless Chromium with every request off the stack's origin refused, as on a machine without
// internet: Swagger UI's script and stylesheet come from the Worker, and the page renders every operation of
// /openapi.json.
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { findChromium } from './helpers.ts'

const stack = inject('stack')
let browser: Browser
let page: Page
const offline: string[] = []
const pageErrors: Error[] = []

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: findChromium(), headless: true })
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  page.on('pageerror', (e) => pageErrors.push(e))
  // No network but the stack: anything else (a CDN) is refused and recorded.
  await page.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(`${stack.url}/`)) return route.continue()
    offline.push(url)
    return route.abort('internetdisconnected')
  })
})
afterAll(async () => {
  await browser?.close()
})

interface Text {
  textContent: string | null
}

describe('API docs (/docs)', () => {
  it('render every operation with no network, from assets the Worker serves and lets browsers keep', async () => {
    const assets: { url: string; status: number; cacheControl: string | undefined }[] = []
    page.on('response', (r) => {
      if (r.url().includes('/docs/assets/'))
        assets.push({ url: r.url(), status: r.status(), cacheControl: r.headers()['cache-control'] })
    })
    await page.goto(`${stack.url}/docs`)
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 })

    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const expected = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort()
    expect(expected.length).toBeGreaterThan(5)
    const methods = await page.$$eval('.opblock-summary-method', (els: Text[]) =>
      els.map((e) => e.textContent),
    )
    const paths = await page.$$eval('.opblock-summary-path', (els: Text[]) =>
      els.map((e) => (e.textContent ?? '').replace(/\u200b/g, '')),
    )
    expect(methods.map((m, i) => `${m} ${paths[i]}`).sort()).toEqual(expected)

    expect(offline).toEqual([])
    expect(pageErrors).toEqual([])
    expect(assets.map((a) => a.url.replace(stack.url, '')).sort()).toEqual([
      expect.stringMatching(/^\/docs\/assets\/swagger-ui-dist@\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/),
      expect.stringMatching(/^\/docs\/assets\/swagger-ui-dist@\d+\.\d+\.\d+\/swagger-ui\.css$/),
    ])
    for (const a of assets) {
      expect(a.status).toBe(200)
      expect(a.cacheControl).toMatch(/max-age=31536000.*immutable/)
    }
  })

  it('answers an asset of another swagger-ui-dist version with 404', async () => {
    const res = await fetch(`${stack.url}/docs/assets/swagger-ui-dist@0.0.1/swagger-ui-bundle.js`)
    expect(res.status).toBe(404)
  })
})
