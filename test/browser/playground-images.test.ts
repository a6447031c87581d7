// The playground's image modes in headless Chromium against `npm start`'s stack (its Stable Cascade demo offers
// every mode): the mode picker follows the model's modes, an image is chosen or dropped, the strength slider, the
// mask brush and the outpainting scale shape the request, live previews show while the job runs, and each mode's
// job succeeds with its image.
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { inputImages } from '../support/input-images.ts'
import { findChromium } from './helpers.ts'
import { ARTIFACTS } from './stack.ts'

const stack = inject('stack')
let browser: Browser
let page: Page
let photo: Buffer
let edges: Buffer

interface DataTransferLike {
  items: { add(file: File): void }
}

interface Img {
  complete: boolean
  naturalWidth: number
}

beforeAll(async () => {
  const images = await inputImages()
  photo = Buffer.from(images.photo?.bytes ?? [])
  edges = Buffer.from(images.edges?.bytes ?? [])
  browser = await chromium.launch({ executablePath: findChromium(), headless: true })
  page = await browser.newPage({ viewport: { width: 1280, height: 1200 } })
  page.on('pageerror', (e) => {
    throw e
  })
})
afterAll(async () => {
  await browser?.close()
})

/** Runs the job the form describes: the POST /v1/jobs body it sent, and the final status. */
async function run(): Promise<{ body: Record<string, unknown>; state: string | null }> {
  const sent = page.waitForRequest((r) => r.url().endsWith('/v1/jobs') && r.method() === 'POST')
  await page.click('#generate')
  const body = JSON.parse((await sent).postData() ?? '{}') as Record<string, unknown>
  const ended = ['succeeded', 'failed', 'canceled'].map((s) => `#status[data-state="${s}"]`).join(', ')
  await page.locator(ended).waitFor()
  return { body, state: await page.getAttribute('#status', 'data-state') }
}

async function resultImageWidth(): Promise<number> {
  const img = page.locator('#result figure img')
  await expect.poll(() => img.evaluate((i: Img) => (i.complete ? i.naturalWidth : 0))).toBeGreaterThan(0)
  return img.evaluate((i: Img) => i.naturalWidth)
}

describe('playground: image modes', () => {
  it('shows the image inputs only for a model with image modes, with its modes', async () => {
    await page.goto(`${stack.url}/`)
    await page.locator('#model option[value="stable-cascade"]').waitFor({ state: 'attached' })
    await page.selectOption('#model', 'wuerstchen-v2')
    expect(await page.isHidden('#image-inputs')).toBe(true)
    await page.selectOption('#model', 'stable-cascade')
    expect(await page.isVisible('#image-inputs')).toBe(true)
    expect(await page.$$eval('#mode option', (o: { value: string }[]) => o.map((x) => x.value))).toEqual([
      'text',
      'variation',
      'img2img',
      'inpainting',
      'outpainting',
      'canny',
    ])
  })

  it('img2img: the chosen image and the strength slider; live previews while it runs', async () => {
    await page.fill('#prompt', 'a harbour at noon')
    await page.selectOption('#size', '512x512')
    await page.fill('#prior_steps', '6')
    await page.fill('#decoder_steps', '2')
    await page.selectOption('#mode', 'img2img')
    await page.setInputFiles('#image-file', { name: 'photo.png', mimeType: 'image/png', buffer: photo })
    await page.locator('#canvas-wrap').waitFor({ state: 'visible' })
    expect(await page.textContent('#drop-hint')).toMatch(/96 × 64/)
    await page.locator('#strength').fill('0.5')
    const { body, state } = await run()
    expect(state).toBe('succeeded')
    expect(body).toMatchObject({ prompt: 'a harbour at noon', strength: 0.5, model: 'stable-cascade' })
    expect(String(body.image)).toMatch(/^data:image\/png;base64,/)
    // int(6 · 0.5) = 3 Stage C steps, previewed at most once per 250 ms: the page showed at least one (the live
    // figure hides when the job ends; its picture stays).
    expect(await page.getAttribute('#preview', 'src')).toMatch(/^data:image\/jpeg;base64,/)
    expect(Number(await page.getAttribute('#preview', 'data-step'))).toBeGreaterThanOrEqual(1)
    expect(await resultImageWidth()).toBe(512)
    expect(await page.textContent('#result figure dl')).toMatch(/modeimg2img/)
  })

  it('inpainting: the brush paints the mask (transparent = repaint)', async () => {
    await page.selectOption('#mode', 'inpainting')
    await page.fill('#prompt', 'a red boat')
    // Nothing painted yet: the page says so and sends nothing.
    await page.click('#generate')
    expect(await page.textContent('#status')).toMatch(/Paint over/)
    const box = await page.locator('#mask-canvas').boundingBox()
    if (!box) throw new Error('no mask canvas')
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 8 })
    await page.mouse.up()
    const { body, state } = await run()
    expect(state).toBe('succeeded')
    expect(String(body.mask)).toMatch(/^data:image\/png;base64,/)
    expect(body.image).toBeDefined()
    await page.screenshot({ path: join(ARTIFACTS, 'playground-inpainting.png'), fullPage: true })
  })

  it('outpainting, variation (no prompt) and canny (a dropped edge map)', async () => {
    await page.selectOption('#mode', 'outpainting')
    const out = await run()
    expect(out.state).toBe('succeeded')
    expect(out.body.placement).toMatchObject({ width: expect.any(Number), height: expect.any(Number) })

    await page.selectOption('#mode', 'variation')
    await page.fill('#prompt', '')
    const variation = await run()
    expect(variation.state).toBe('succeeded')
    expect(variation.body.prompt).toBeUndefined()

    await page.selectOption('#mode', 'canny')
    await page.fill('#prompt', 'a vase')
    // Dropped rather than chosen: a DataTransfer with the file, on the drop area.
    const transfer = await page.evaluateHandle(
      ({ b64 }) => {
        // Runs in the page (this suite's tsconfig has no DOM lib).
        const dt = new (globalThis as unknown as { DataTransfer: new () => DataTransferLike }).DataTransfer()
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
        dt.items.add(new File([bytes], 'edges.png', { type: 'image/png' }))
        return dt
      },
      { b64: edges.toString('base64') },
    )
    await page.dispatchEvent('#image-area', 'drop', { dataTransfer: transfer })
    await expect.poll(() => page.textContent('#drop-hint')).toMatch(/edges\.png/)
    await page.check('#preprocessed')
    const canny = await run()
    expect(canny.state).toBe('succeeded')
    expect(canny.body.control).toMatchObject({ type: 'canny', preprocessed: true, strength: 1 })
    expect(await resultImageWidth()).toBe(512)
  })
})
