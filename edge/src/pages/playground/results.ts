// Playground script, part 3: a finished job's image(s) with the parameters that made them (the model's defaults
// filled in, the seeds the API reports), and the recent results of this browser (localStorage).
// biome-ignore lint/complexity/noUselessStringRaw: raw, so the browser gets exactly the text written here
export const RESULTS_JS = String.raw`
const RECENT_KEY = 'cascade-edge:recent'
const RECENT_MAX = 24

function loadRecent() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]')
    return Array.isArray(list) ? list.filter((r) => r && typeof r.url === 'string') : []
  } catch {
    return []
  }
}

function remember(results) {
  const urls = new Set(results.map((r) => r.url))
  const list = [...results, ...loadRecent().filter((r) => !urls.has(r.url))].slice(0, RECENT_MAX)
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list))
  } catch {} // storage full or disabled: the page still works
  renderRecent()
}

/** One record per image: what was asked, with the model's defaults resolved, and the seed the API used. */
function resultsOf(body, model, data, seconds) {
  const d = model.defaults
  return data.map((img) => ({
    url: img.url,
    seed: img.seed,
    model: model.id,
    demo: model.demo,
    prompt: body.prompt ?? '(variation of an image)',
    mode: body.control ? 'canny' : body.placement ? 'outpainting' : body.mask ? 'inpainting'
      : body.strength ? 'img2img' : body.image ? 'variation' : 'text',
    negative_prompt: body.negative_prompt ?? '',
    size: body.size ?? d.size,
    prior_steps: body.prior_steps ?? d.prior_steps,
    prior_guidance: body.prior_guidance ?? d.prior_guidance,
    decoder_steps: body.decoder_steps ?? d.decoder_steps,
    decoder_guidance: body.decoder_guidance ?? d.decoder_guidance,
    output_format: body.output_format ?? d.output_format,
    tiling: body.tiling === true,
    seconds,
    created: Date.now(),
  }))
}

function figure(r) {
  const params = [
    ['model', r.model + (r.demo ? ' (demo, random weights)' : '')],
    ['mode', r.mode ?? 'text'],
    ['negative', r.negative_prompt || '(none)'],
    ['size', r.size.replace('x', ' × ')],
    ['seed', r.seed],
    ['prior', r.prior_steps + ' steps, guidance ' + r.prior_guidance],
    ['decoder', r.decoder_steps + ' steps, guidance ' + r.decoder_guidance],
    ['format', r.output_format],
  ]
  if (r.tiling) params.push(['tiling', 'seamless'])
  if (r.seconds !== undefined) params.push(['time', r.seconds.toFixed(1) + ' s'])
  const reuse = el('button', { type: 'button' }, 'Use these settings')
  reuse.addEventListener('click', () => fillForm(r))
  return el('figure', { class: 'result' },
    el('a', { href: r.url, target: '_blank', rel: 'noopener' },
      el('img', { src: r.url, alt: r.prompt, 'data-seed': r.seed })),
    el('figcaption', {},
      el('p', { class: 'prompt' }, r.prompt),
      el('dl', {}, ...params.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))])),
      el('div', { class: 'fig-actions' }, reuse, el('a', { href: r.url, download: '' }, 'Download'))),
  )
}

function showResults(results) {
  $('result').replaceChildren(...results.map(figure))
}

function renderRecent() {
  const list = loadRecent()
  if (!list.length) return $('recent').replaceChildren(el('p', { class: 'note' }, 'Nothing yet.'))
  $('recent').replaceChildren(...list.map((r) => {
    const b = el('button', { type: 'button', title: r.prompt + ' (seed ' + r.seed + ')' },
      el('img', { src: r.url, alt: r.prompt, loading: 'lazy' }))
    b.addEventListener('click', () => showResults([r]))
    return b
  }))
}

$('clear-recent').addEventListener('click', () => {
  localStorage.removeItem(RECENT_KEY)
  renderRecent()
})
renderRecent()
`
