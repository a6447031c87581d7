// Playground script, part 2: one progress bar per pipeline stage, added as the job's `progress` events first
// report it (text, c, b, a, encode, or any stage a newer backend reports) and kept in pipeline order. With n > 1
// each event names its image, and a stage's bar is the share of all its images' steps done.
// biome-ignore lint/complexity/noUselessStringRaw: raw, so the browser gets exactly the text written here
export const PROGRESS_JS = String.raw`
const STAGE_LABELS = {
  text: 'Text encoder',
  c: 'Stage C (prior)',
  b: 'Stage B (decoder)',
  a: 'Stage A (VQGAN decode)',
  encode: 'Encode image',
}
const STAGE_ORDER = Object.keys(STAGE_LABELS)
let stageSteps = new Map() // stage -> Map(image index -> { step, steps })
let imagesInJob = 1

function resetProgress(images) {
  stageSteps = new Map()
  imagesInJob = images
  $('stages').replaceChildren()
  $('stages').dataset.state = 'running'
}

/** The job ended: 'succeeded' | 'failed' | 'canceled' (bars that did not finish turn red for the last two). */
function endProgress(state) {
  $('stages').dataset.state = state
}

function stageRow(stage) {
  const found = $('stages').querySelector('[data-stage="' + CSS.escape(stage) + '"]')
  if (found) return found
  const row = el('div', { class: 'stage', 'data-stage': stage, 'data-percent': '0' },
    el('span', {}, STAGE_LABELS[stage] ?? stage),
    el('progress', { max: '100', value: '0', 'aria-label': STAGE_LABELS[stage] ?? stage }),
    el('output', {}, ''),
  )
  const rank = (s) => (STAGE_ORDER.includes(s) ? STAGE_ORDER.indexOf(s) : STAGE_ORDER.length)
  const after = [...$('stages').children].find((r) => rank(r.dataset.stage) > rank(stage))
  $('stages').insertBefore(row, after ?? null)
  return row
}

/** A 'progress' event: { stage, step, steps, image? }. */
function onProgress(p) {
  let perImage = stageSteps.get(p.stage)
  if (!perImage) stageSteps.set(p.stage, (perImage = new Map()))
  perImage.set(p.image ?? 0, { step: p.step, steps: p.steps })
  let done = 0
  let total = 0
  for (const s of perImage.values()) {
    done += Math.min(s.step, s.steps)
    total += s.steps
  }
  total += Math.max(0, imagesInJob - perImage.size) * p.steps // images this stage has not reached yet
  const percent = Math.floor((100 * done) / total)
  const row = stageRow(p.stage)
  row.dataset.percent = String(percent)
  row.classList.toggle('done', percent >= 100)
  row.querySelector('progress').value = percent
  const counter = imagesInJob > 1 ? done + '/' + total : p.step + '/' + p.steps
  row.querySelector('output').textContent = percent + '% · ' + counter
  return (STAGE_LABELS[p.stage] ?? p.stage) + ' ' + counter
}
`
