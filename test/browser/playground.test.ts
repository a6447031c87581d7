// The playground in a real headless Chromium (the system one, through playwright-core) against `npm start`'s
// stack: the demo banner, a generation with the tiny model (a bar per stage reaching 100%, the image and its
// parameters, the recent list surviving a reload), then a second run canceled from the UI.
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { findChromium } from './helpers.ts'
import { ARTIFACTS } from './stack.ts'

const stack = inject('stack')
let browser: Browser
let page: Page

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: findChromium(), headless: true })
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  page.on('pageerror', (e) => {
    throw e
  })
})
afterAll(async () => {
  await browser?.close()
})

/** Fills the form; empty strings leave a field to the model's default. */
async function fill(fields: Record<string, string>): Promise<void> {
  for (const [id, value] of Object.entries(fields)) {
    const tag = await page.locator(`#${id}`).evaluate((e: { tagName: string }) => e.tagName)
    if (tag === 'SELECT') await page.selectOption(`#${id}`, value)
    else await page.fill(`#${id}`, value)
  }
}

// The DOM as these page functions see it (the suite's tsconfig has no DOM lib: it is Node code).
interface StageRow {
  dataset: Record<string, string | undefined>
  querySelector(selector: 'progress'): { value: number } | null
}
interface Img {
  complete: boolean
  naturalWidth: number
  naturalHeight: number
}

interface Text {
  textContent: string | null
}

/** The shown result's parameters, as its <dl> lists them (term -> description). */
const resultParams = () =>
  page.$$eval('#result figure dl > *', (cells: Text[]) => {
    const out: Record<string, string> = {}
    for (let i = 0; i + 1 < cells.length; i += 2)
      out[cells[i]?.textContent ?? ''] = cells[i + 1]?.textContent ?? ''
    return out
  })

/** Waits for the run to end; its state (succeeded | failed | canceled) and status line. */
async function runEnds(): Promise<{ state: string | null; text: string | null }> {
  const ended = ['succeeded', 'failed', 'canceled'].map((s) => `#status[data-state="${s}"]`).join(', ')
  await page.locator(ended).waitFor()
  return { state: await page.getAttribute('#status', 'data-state'), text: await page.textContent('#status') }
}

/** Each stage bar, in page order: its stage, the percent it shows and its <progress> value. */
const stageBars = () =>
  page.$$eval('#stages .stage', (rows: StageRow[]) =>
    rows.map((r) => ({
      stage: r.dataset.stage ?? '',
      percent: Number(r.dataset.percent),
      value: r.querySelector('progress')?.value,
    })),
  )

describe('playground', () => {
  it('generates with the demo model: banner, per-stage progress to 100%, the image, its parameters, recents', async () => {
    await page.goto(`${stack.url}/`)
    const banner = page.locator('#demo-banner')
    await banner.waitFor({ state: 'visible' })
    expect(await banner.textContent()).toMatch(/random weights/)
    await page.locator('#model option[value="wuerstchen-v2"]').waitFor({ state: 'attached' })
    expect(await page.getAttribute('#prior_steps', 'placeholder')).toBe('29') // the model's default

    await fill({
      prompt: 'a lighthouse on a cliff, oil painting',
      negative_prompt: 'blurry',
      size: '512x512',
      seed: '7',
      prior_steps: '3',
      prior_guidance: '4',
      decoder_steps: '2',
      decoder_guidance: '0',
    })
    await page.click('#generate')
    expect(await runEnds()).toEqual({ state: 'succeeded', text: expect.stringMatching(/^Done/) })

    const stages = await stageBars()
    expect(stages.map((s) => s.stage)).toEqual(expect.arrayContaining(['c', 'b', 'a']))
    const order = stages.map((s) => s.stage)
    expect(order.indexOf('c')).toBeLessThan(order.indexOf('b'))
    expect(order.indexOf('b')).toBeLessThan(order.indexOf('a'))
    for (const s of stages) expect(s, s.stage).toMatchObject({ percent: 100, value: 100 })

    const img = page.locator('#result figure img')
    await expect.poll(() => img.evaluate((i: Img) => (i.complete ? i.naturalWidth : 0))).toBe(512)
    expect(await img.evaluate((i: Img) => i.naturalHeight)).toBe(512)
    expect(await page.textContent('#result .prompt')).toBe('a lighthouse on a cliff, oil painting')
    expect(await resultParams()).toMatchObject({
      model: 'wuerstchen-v2 (demo, random weights)',
      negative: 'blurry',
      size: '512 × 512',
      seed: '7',
      prior: '3 steps, guidance 4',
      decoder: '2 steps, guidance 0',
      format: 'png',
    })
    const src = (await img.getAttribute('src')) ?? ''
    expect(src).toMatch(/\/v1\/images\/[0-9a-f]{64}\.png$/)

    await page.screenshot({ path: join(ARTIFACTS, 'playground.png'), fullPage: true })

    // Recent results live in this browser's localStorage: still there after a reload.
    await page.reload()
    await page.locator('#recent img').first().waitFor()
    expect(await page.locator('#recent img').first().getAttribute('src')).toBe(src)
    await page.locator('#recent button').first().click()
    expect(await page.locator('#result figure img').getAttribute('src')).toBe(src)
  })

  it('cancels a running job from the UI', async () => {
    await page.goto(`${stack.url}/`)
    await page.locator('#model option[value="wuerstchen-v2"]').waitFor({ state: 'attached' })
    // The biggest, longest job the API allows, so it is still running when Cancel is pressed.
    await fill({
      prompt: 'a very long exposure of the night sky',
      size: '1536x1536',
      seed: '8',
      prior_steps: '60',
      decoder_steps: '30',
    })
    const created = page.waitForResponse(
      (r) => r.url().endsWith('/v1/jobs') && r.request().method() === 'POST',
    )
    await page.click('#generate')
    const job = (await (await created).json()) as { id: string }
    // Progress has started (or the run ended early, which the next line reports).
    await page.locator('#stages .stage, #status[data-state="failed"]').first().waitFor()
    const status = (await page.textContent('#status')) ?? ''
    expect(await page.getAttribute('#status', 'data-state'), status).not.toBe('failed')
    expect(await page.isEnabled('#cancel')).toBe(true)
    await page.click('#cancel')

    expect(await runEnds()).toEqual({ state: 'canceled', text: 'Canceled' })
    expect(await page.getAttribute('#stages', 'data-state')).toBe('canceled')
    expect(await page.isEnabled('#generate')).toBe(true)
    expect(await page.isDisabled('#cancel')).toBe(true)
    const record = (await (await fetch(`${stack.url}/v1/jobs/${job.id}`)).json()) as { status: string }
    expect(record.status).toBe('canceled')
    // The canceled run added nothing to the recent results.
    expect(await page.locator('#recent img').count()).toBe(1)
    await page.screenshot({ path: join(ARTIFACTS, 'playground-canceled.png'), fullPage: true })
  })

  it('generates a seamless tile: the checkbox sends tiling, the result says so', async () => {
    await page.goto(`${stack.url}/`)
    await page.locator('#model option[value="wuerstchen-v2"]').waitFor({ state: 'attached' })
    // npm start told the edge which models have tile graphs: make-tiny's demo has them.
    expect(await page.isEnabled('#tiling')).toBe(true)
    await fill({
      prompt: 'terracotta floor tiles',
      size: '512x512',
      seed: '9',
      prior_steps: '2',
      decoder_steps: '1',
    })
    await page.check('#tiling')
    const created = page.waitForRequest((r) => r.url().endsWith('/v1/jobs') && r.method() === 'POST')
    await page.click('#generate')
    expect((await created).postDataJSON()).toMatchObject({ prompt: 'terracotta floor tiles', tiling: true })
    expect(await runEnds()).toEqual({ state: 'succeeded', text: expect.stringMatching(/^Done/) })
    expect(await resultParams()).toMatchObject({ seed: '9', tiling: 'seamless' })
  })
})
