// Playground script, part 1b: image inputs. The model's modes (GET /v1/models) fill the mode picker; an image is
// dropped or chosen (kept as a data: URL, re-encoded as JPEG when over the API's 4 MiB); the strength slider
// (img2img), a brush that paints the area to repaint (inpainting: exported as OpenAI's mask, transparent =
// repaint), the image's scale on the canvas (outpainting) and the canny options; imageFields() turns them into
// the request's fields.
export const INPUTS_JS = String.raw`
const MODE_LABELS = {
  text: 'Text to image',
  variation: 'Variation of an image',
  img2img: 'Image to image',
  inpainting: 'Inpainting (paint what to redo)',
  outpainting: 'Outpainting (extend the image)',
  canny: 'Canny edges (ControlNet)',
}
const MAX_INPUT_BYTES = 4 * 1024 * 1024
const input = { data: null, width: 0, height: 0, painted: false }

const currentMode = () => $('mode').value || 'text'

/** Shows the picker for the model's modes (hidden when it does text only) and the rows the mode uses. */
function applyModes(m) {
  const modes = m.modes ?? ['text']
  const keep = modes.includes($('mode').value) ? $('mode').value : 'text'
  $('mode').replaceChildren(...modes.map((v) => new Option(MODE_LABELS[v] ?? v, v, false, v === keep)))
  $('image-inputs').hidden = modes.length < 2
  applyMode()
}

function applyMode() {
  const mode = currentMode()
  const show = { 'image-area': mode !== 'text', 'strength-row': mode === 'img2img', 'brush-row': mode === 'inpainting',
    'outpaint-row': mode === 'outpainting', 'canny-row': mode === 'canny' }
  for (const [id, visible] of Object.entries(show)) $(id).hidden = !visible
  $('mask-canvas').hidden = mode !== 'inpainting'
  // A variation needs no prompt.
  $('prompt').required = mode !== 'variation'
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader()
    r.onload = () => resolve(r.result)
    r.onerror = () => reject(r.error)
    r.readAsDataURL(blob)
  })
}

/** Loads a chosen or dropped file: shown, sized, and kept as the request's image. */
async function loadImage(file) {
  if (!file) return
  if (!/^image\/(png|jpeg|webp)$/.test(file.type)) return setStatus('Choose a PNG, JPEG or WebP image.', 'failed')
  const url = await readAsDataUrl(file)
  const img = $('source-img')
  await new Promise((resolve, reject) => {
    img.onload = resolve
    img.onerror = () => reject(new Error('not an image the browser can show'))
    img.src = url
  })
  input.width = img.naturalWidth
  input.height = img.naturalHeight
  input.data = file.size <= MAX_INPUT_BYTES ? url : reencoded(img)
  const mask = $('mask-canvas')
  mask.width = input.width
  mask.height = input.height
  input.painted = false
  $('canvas-wrap').hidden = false
  $('drop-hint').textContent = file.name + ' · ' + input.width + ' × ' + input.height + ' (drop another to replace)'
}

/** Too big for the API: a JPEG of at most 2048 px a side. */
function reencoded(img) {
  const s = Math.min(1, 2048 / Math.max(img.naturalWidth, img.naturalHeight))
  const c = el('canvas', { width: Math.round(img.naturalWidth * s), height: Math.round(img.naturalHeight * s) })
  c.getContext('2d').drawImage(img, 0, 0, c.width, c.height)
  input.width = c.width
  input.height = c.height
  return c.toDataURL('image/jpeg', 0.9)
}

/** The brush: paints (opaque, shown half transparent) on a canvas of the image's own size. */
function paint(event) {
  if (currentMode() !== 'inpainting' || !input.data || !(event.buttons & 1)) return
  const c = $('mask-canvas')
  const box = c.getBoundingClientRect()
  const scale = c.width / box.width
  const ctx = c.getContext('2d')
  ctx.fillStyle = '#ff2d55'
  ctx.beginPath()
  ctx.arc((event.clientX - box.left) * scale, (event.clientY - box.top) * scale, (Number($('brush').value) / 2) * scale, 0, 2 * Math.PI)
  ctx.fill()
  input.painted = true
}

/** OpenAI's mask: the image's size, opaque where kept, transparent where painted. */
function maskDataUrl() {
  const c = el('canvas', { width: input.width, height: input.height })
  const ctx = c.getContext('2d')
  ctx.fillStyle = '#000'
  ctx.fillRect(0, 0, c.width, c.height)
  ctx.globalCompositeOperation = 'destination-out'
  ctx.drawImage($('mask-canvas'), 0, 0)
  return c.toDataURL('image/png')
}

/** Outpainting: the image, its aspect kept, at the chosen share of the canvas, centred. */
function placement(size) {
  const [W, H] = size.split('x').map(Number)
  const s = Number($('outpaint-scale').value)
  const aspect = input.width / input.height
  const width = Math.max(16, Math.round(Math.min(s * W, s * H * aspect)))
  const height = Math.max(16, Math.round(width / aspect))
  return { x: Math.floor((W - width) / 2), y: Math.floor((H - height) / 2), width, height }
}

/** The request's image fields for the chosen mode; throws a message when something is missing. */
function imageFields(size) {
  const mode = currentMode()
  if (mode === 'text') return {}
  if (!input.data) throw new Error('Choose an image first (drop it on the image area).')
  switch (mode) {
    case 'variation':
      return { image: input.data }
    case 'img2img':
      return { image: input.data, strength: Number($('strength').value) }
    case 'inpainting':
      if (!input.painted) throw new Error('Paint over what to repaint first.')
      return { image: input.data, mask: maskDataUrl() }
    case 'outpainting':
      return { image: input.data, placement: placement(size) }
    case 'canny':
      return { control: { type: 'canny', image: input.data, preprocessed: $('preprocessed').checked,
        strength: Number($('control-strength').value) } }
  }
  return {}
}

$('mode').addEventListener('change', applyMode)
$('image-file').addEventListener('change', (e) => loadImage(e.target.files[0]).catch((err) => setStatus(err.message, 'failed')))
$('image-area').addEventListener('dragover', (e) => {
  e.preventDefault()
  $('image-area').classList.add('over')
})
$('image-area').addEventListener('dragleave', () => $('image-area').classList.remove('over'))
$('image-area').addEventListener('drop', (e) => {
  e.preventDefault()
  $('image-area').classList.remove('over')
  loadImage(e.dataTransfer.files[0]).catch((err) => setStatus(err.message, 'failed'))
})
$('mask-canvas').addEventListener('pointerdown', paint)
$('mask-canvas').addEventListener('pointermove', paint)
$('clear-mask').addEventListener('click', () => {
  const c = $('mask-canvas')
  c.getContext('2d').clearRect(0, 0, c.width, c.height)
  input.painted = false
})
$('strength').addEventListener('input', () => {
  $('strength-value').textContent = $('strength').value
})
`
