// Input images through the backend's decoding (image/decode.ts) and the mapping of a job's image fields to the
// pipeline's inputs (pipeline/job-inputs.ts): every hostile image of test/support/input-images.ts is refused by the
// header checks (as the edge refuses it) or by the decoder, naming its field; the well-formed ones decode to what
// they show (EXIF orientation, 16-bit, CMYK, alpha); masks follow OpenAI's rule; outpainting places the image.
import { beforeAll, describe, expect, it } from 'vitest'
import { checkInputImage } from '../../shared/src/index.ts'
import { type InputImage, inputImages, PHOTO_SIZE } from '../../test/support/input-images.ts'
import { type DecodedImage, decodeInputImage, InputImageError } from '../src/image/decode.ts'
import { jobImageInputs } from '../src/pipeline/job-inputs.ts'

let images: Record<string, InputImage>
beforeAll(async () => {
  images = await inputImages()
})
const img = (name: string) => images[name] as InputImage

describe('decodeInputImage', () => {
  it('refuses each hostile image by its header (the edge does the same) or by decoding it, naming the field', async () => {
    const names = Object.keys(images)
    expect(names.length).toBeGreaterThan(15)
    for (const name of names) {
      const { bytes, verdict, what } = img(name)
      expect(checkInputImage(bytes).ok, `${name}: ${what}`).toBe(verdict !== 'edge')
      const decoded = decodeInputImage(bytes, 'control.image')
      if (verdict === 'ok') await expect(decoded, `${name}: ${what}`).resolves.toBeDefined()
      else {
        const err = await decoded.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err, `${name}: ${what}`).toBeInstanceOf(InputImageError)
        expect((err as InputImageError).field).toBe('control.image')
      }
    }
  })

  it('applies the EXIF orientation, converts 16-bit and CMYK to 8-bit sRGB, keeps alpha apart', async () => {
    const photo = await decodeInputImage(img('photo').bytes, 'image')
    expect([photo.width, photo.height]).toEqual([PHOTO_SIZE.width, PHOTO_SIZE.height])
    expect(photo.alpha).toBeUndefined()
    const rotated = await decodeInputImage(img('rotated').bytes, 'image')
    expect([rotated.width, rotated.height]).toEqual([PHOTO_SIZE.width, PHOTO_SIZE.height])
    // The background colour (220, 120, 40) survives every encoding within JPEG's error.
    const corner = (d: DecodedImage) => [...d.rgb8.subarray(0, 3)]
    for (const name of ['png16', 'cmyk', 'jpeg', 'webp']) {
      const d = await decodeInputImage(img(name).bytes, 'image')
      expect([d.width, d.height]).toEqual([PHOTO_SIZE.width, PHOTO_SIZE.height])
      // CMYK goes through a generic profile and back: further off than the lossy encodings alone.
      const tolerance = name === 'cmyk' ? 40 : 24
      for (const [i, v] of corner(d).entries())
        expect(Math.abs(v - ([220, 120, 40][i] as number)), name).toBeLessThan(tolerance)
    }
    const alpha = await decodeInputImage(img('alpha').bytes, 'image')
    expect(alpha.alpha).toBeDefined()
    // A transparent pixel is flattened onto white in the picture.
    const centre = (PHOTO_SIZE.height / 2) * PHOTO_SIZE.width + PHOTO_SIZE.width / 2
    expect(alpha.alpha?.[centre]).toBe(0)
    expect([...alpha.rgb8.subarray(3 * centre, 3 * centre + 3)]).toEqual([255, 255, 255])
  })
})

describe('jobImageInputs', () => {
  const canvas = { width: 128, height: 128 }
  const decode = (name: string) => decodeInputImage(img(name).bytes, 'image')
  const sha = (c: string) => c.repeat(64)

  it('maps each mode: variation, img2img, inpainting (alpha or white masks), canny', async () => {
    const photo = await decode('photo')
    expect(await jobImageInputs({ image: sha('a') }, { image: photo }, canvas)).toEqual({
      inputs: { variation: photo },
    })
    expect(await jobImageInputs({ image: sha('a'), strength: 0.6 }, { image: photo }, canvas)).toEqual({
      inputs: { init: photo },
      strength: 0.6,
    })
    for (const maskName of ['mask', 'whiteMask']) {
      const r = await jobImageInputs(
        { image: sha('a'), mask: sha('b'), strength: 1, composite: true },
        { image: photo, mask: await decode(maskName) },
        canvas,
      )
      const m = r.inputs?.composite?.mask
      // The centre is repainted, the corner kept, with either kind of mask.
      expect(m?.repaint[(PHOTO_SIZE.height / 2) * PHOTO_SIZE.width + PHOTO_SIZE.width / 2], maskName).toBe(1)
      expect(m?.repaint[0], maskName).toBe(0)
      expect(r.inputs?.control?.type).toBe('inpainting')
      expect(r.strength).toBe(1)
    }
    const noComposite = await jobImageInputs(
      { image: sha('a'), mask: sha('b'), strength: 1, composite: false },
      { image: photo, mask: await decode('mask') },
      canvas,
    )
    expect(noComposite.inputs?.composite).toBeUndefined()
    const edges = await decode('edges')
    const canny = await jobImageInputs(
      { control: { type: 'canny', image: sha('c'), strength: 0.5, preprocessed: true } },
      { control: edges },
      canvas,
    )
    expect(canny.inputs?.control).toEqual({ type: 'canny', image: edges, preprocessed: true, strength: 0.5 })
  })

  it("OpenAI's mask-less edit: the image's own alpha, refused when it has none", async () => {
    const alpha = await decode('alpha')
    const r = await jobImageInputs(
      { image: sha('a'), mask: sha('a'), strength: 1 },
      { image: alpha, mask: alpha },
      canvas,
    )
    expect(r.inputs?.control?.type).toBe('inpainting')
    const photo = await decode('photo')
    await expect(
      jobImageInputs({ image: sha('a'), mask: sha('a'), strength: 1 }, { image: photo, mask: photo }, canvas),
    ).rejects.toMatchObject({ field: 'mask', message: expect.stringMatching(/no alpha channel/) })
  })

  it('refuses a mask of another size, or one that marks nothing', async () => {
    const photo = await decode('photo')
    await expect(
      jobImageInputs(
        { image: sha('a'), mask: sha('b'), strength: 1 },
        { image: photo, mask: await decode('otherSize') },
        canvas,
      ),
    ).rejects.toMatchObject({ field: 'mask' })
    await expect(
      jobImageInputs(
        { image: sha('a'), mask: sha('b'), strength: 1 },
        { image: photo, mask: await decode('blackMask') },
        canvas,
      ),
    ).rejects.toMatchObject({ field: 'mask', message: expect.stringMatching(/marks no pixel/) })
  })

  it('outpainting: the image scaled into its placement on a black canvas, everything around it repainted', async () => {
    const photo = await decode('photo')
    const placement = { x: 16, y: 32, width: 48, height: 32 }
    const r = await jobImageInputs(
      { image: sha('a'), placement, strength: 1, composite: true },
      { image: photo },
      canvas,
    )
    const composite = r.inputs?.composite
    if (!composite || !('rgb8' in composite.image)) throw new Error('no canvas')
    expect([composite.image.width, composite.image.height]).toEqual([128, 128])
    const at = (x: number, y: number) => y * 128 + x
    expect(composite.mask.repaint[at(0, 0)]).toBe(1)
    expect(composite.mask.repaint[at(20, 40)]).toBe(0)
    expect(composite.mask.repaint[at(70, 40)]).toBe(1)
    expect([...composite.image.rgb8.subarray(0, 3)]).toEqual([0, 0, 0])
    // Inside the placement: the photo's background colour.
    const p = 3 * at(17, 33)
    expect(Math.abs((composite.image.rgb8[p] as number) - 220)).toBeLessThan(8)
  })
})
