// Playground script, part 1 (plain JS, runs first): DOM helpers, the models from GET /v1/models (defaults,
// limits, licence, the `demo` flag that raises the random-weights banner, `tiling` that enables the checkbox) and
// the form -> request body.
// biome-ignore lint/complexity/noUselessStringRaw: raw, so the browser gets exactly the text written here
export const FORM_JS = String.raw`
const $ = (id) => document.getElementById(id)

/** el('dd', { class: 'x' }, 'text', child): an element with attributes and children (text is never parsed). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) e.setAttribute(k, String(v))
  e.append(...children)
  return e
}

const form = $('form')
const NUMERIC = ['n', 'seed', 'prior_steps', 'prior_guidance', 'decoder_steps', 'decoder_guidance']
const TUNABLE = ['prior_steps', 'prior_guidance', 'decoder_steps', 'decoder_guidance']
const FIELDS = ['prompt', 'negative_prompt', 'model', 'size', 'output_format', 'tiling', ...NUMERIC]
const SIZES = [
  [512, 512], [768, 768], [1024, 1024], [1280, 1280], [1536, 1536],
  [1024, 768], [768, 1024], [1152, 896], [896, 1152], [1536, 1024], [1024, 1536], [1536, 640], [640, 1536],
]
let models = []

const currentModel = () => models.find((m) => m.id === $('model').value)

function setOptions(select, values, wanted) {
  const keep = values.includes(wanted) ? wanted : values[0]
  select.replaceChildren(...values.map((v) => new Option(v.replace('x', ' × '), v, false, v === keep)))
}

/** Placeholders show the model's defaults; size and image count follow its limits; the banner its demo flag. */
function applyModel() {
  const m = currentModel()
  if (!m) return
  for (const k of TUNABLE) $(k).placeholder = String(m.defaults[k])
  $('prior_steps').max = String(m.limits.max_prior_steps)
  $('decoder_steps').max = String(m.limits.max_decoder_steps)
  const { min_size: lo, max_size: hi, size_multiple: step } = m.limits
  const fits = (d) => d >= lo && d <= hi && d % step === 0
  const sizes = SIZES.filter(([w, h]) => fits(w) && fits(h)).map(([w, h]) => w + 'x' + h)
  setOptions($('size'), sizes, $('size').value || m.defaults.size)
  const counts = Array.from({ length: m.limits.max_n }, (_, i) => String(i + 1))
  setOptions($('n'), counts, $('n').value || '1')
  applyModes(m)
  $('license').textContent = m.license.text + (m.license.commercial_use ? '' : ' (non-commercial use only)')
  // Only a model whose backends have tile graphs takes tiling.
  $('tiling').disabled = !m.tiling
  if (!m.tiling) $('tiling').checked = false
  $('tiling-note').textContent = m.tiling
    ? 'the image repeats without a seam, side by side and top to bottom'
    : m.id + ' has no tile graphs here (cascade convert --tiling)'
  const banner = $('demo-banner')
  banner.hidden = !m.demo
  banner.replaceChildren(
    el('strong', {}, 'Demo model. '),
    m.id + ' is served with random weights (built by ', el('code', {}, 'cascade make-tiny'),
    '), so its images are noise by design: the pipeline, progress, caching and API are real. ',
    'Start the stack with ', el('code', {}, 'MODEL_DIR=<converted model>'), ' to generate real images.',
  )
}

async function loadModels() {
  try {
    const res = await fetch('/v1/models')
    if (!res.ok) throw new Error((await res.json()).detail ?? res.statusText)
    models = (await res.json()).data
  } catch (e) {
    $('load-error').hidden = false
    $('load-error').textContent = 'Could not load the models: ' + e.message
    return
  }
  const label = (m) => m.id + (m.demo ? ' (demo, random weights)' : '') +
    (m.license.commercial_use ? '' : ' (non-commercial)')
  $('model').replaceChildren(...models.map((m) => new Option(label(m), m.id, m.default, m.default)))
  applyModel()
}

/**
 * The form as a POST /v1/jobs body: empty fields are left out, so the model's defaults apply; the image fields
 * of the chosen mode (inputs part) are added. Throws a message when an input is missing.
 */
function requestBody() {
  const body = {}
  for (const [k, v] of new FormData(form)) {
    if (v === '' || !FIELDS.includes(k)) continue
    body[k] = NUMERIC.includes(k) ? Number(v) : k === 'tiling' ? true : v
  }
  return { ...body, ...imageFields(body.size ?? $('size').value) }
}

/** Fills the form from a past result, to tweak or reproduce it. */
function fillForm(r) {
  for (const k of ['prompt', 'negative_prompt', 'output_format', ...TUNABLE]) $(k).value = r[k] ?? ''
  if (models.some((m) => m.id === r.model)) $('model').value = r.model
  applyModel()
  $('size').value = r.size
  $('n').value = '1'
  $('seed').value = String(r.seed)
  $('tiling').checked = Boolean(r.tiling) && !$('tiling').disabled
  $('prompt').focus()
}

$('model').addEventListener('change', applyModel)
$('random-seed').addEventListener('click', () => {
  $('seed').value = String(crypto.getRandomValues(new Uint32Array(1))[0])
})
loadModels()
`
