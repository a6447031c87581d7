// GET /: a small playground. Starts a job, follows its SSE events with a progress bar, shows the image and keeps
// the last results in localStorage. Plain HTML + JS, no build step.
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>cascade-edge playground</title>
<style>
body{font:15px system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
textarea{width:100%;min-height:4rem}label{display:inline-block;margin:.3rem 1rem .3rem 0}
input,select{width:7rem}progress{width:100%;height:1rem}#out img{max-width:100%;border-radius:6px}
#recent{display:flex;flex-wrap:wrap;gap:.5rem}#recent img{width:128px;height:128px;object-fit:cover;cursor:pointer}
.err{color:#b00}
</style></head><body>
<h1>cascade-edge</h1>
<form id="f">
<textarea name="prompt" required maxlength="2000" placeholder="an astronaut riding a horse, watercolor"></textarea>
<textarea name="negative_prompt" maxlength="2000" placeholder="negative prompt (optional)"></textarea>
<label>model <select name="model" id="model"></select></label>
<label>size <select name="size"><option>1024x1024</option><option>768x768</option><option>512x512</option>
<option>1024x1536</option><option>1536x1024</option></select></label>
<label>seed <input name="seed" type="number" min="0" max="4294967295" placeholder="auto"></label>
<label>prior steps <input name="prior_steps" type="number" min="1" max="60" placeholder="default"></label>
<label>prior guidance <input name="prior_guidance" type="number" step="0.1" min="0" max="20" placeholder="default"></label>
<label>decoder steps <input name="decoder_steps" type="number" min="1" max="30" placeholder="default"></label>
<label>decoder guidance <input name="decoder_guidance" type="number" step="0.1" min="0" max="10" placeholder="default"></label>
<label>format <select name="output_format"><option>png</option><option>webp</option><option>jpeg</option></select></label>
<p><button>Generate</button> <button type="button" id="cancel" disabled>Cancel</button></p>
</form>
<p id="status"></p><progress id="bar" max="1" value="0"></progress>
<div id="out"></div><h2>Recent</h2><div id="recent"></div>
<script>
const $ = (id) => document.getElementById(id)
const STAGES = { text: 'text', c: 'Stage C', b: 'Stage B', a: 'Stage A', encode: 'encode' }
let job = null
fetch('/v1/models').then((r) => r.json()).then((m) => {
  for (const x of m.data) $('model').add(new Option(x.id + (x.license.commercial_use ? '' : ' (non-commercial)'), x.id, x.default, x.default))
})
function recent() {
  const list = JSON.parse(localStorage.getItem('recent') || '[]')
  $('recent').replaceChildren(...list.map((r) => { const i = new Image(); i.src = r.url; i.title = r.prompt; i.onclick = () => show(r); return i }))
}
function show(r) { $('out').innerHTML = ''; const i = new Image(); i.src = r.url; $('out').append(i) }
$('f').onsubmit = async (e) => {
  e.preventDefault()
  const body = {}
  for (const [k, v] of new FormData(e.target)) if (v !== '') body[k] = ['seed', 'prior_steps', 'decoder_steps', 'prior_guidance', 'decoder_guidance'].includes(k) ? Number(v) : v
  $('status').className = ''; $('status').textContent = 'submitting…'; $('bar').value = 0
  const res = await fetch('/v1/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  const j = await res.json()
  if (!res.ok) { $('status').className = 'err'; $('status').textContent = j.detail + (j.errors ? ': ' + j.errors.map((x) => x.path + ' ' + x.message).join('; ') : ''); return }
  job = j.id; $('cancel').disabled = false
  const es = new EventSource(j.events_url)
  es.addEventListener('queued', (m) => { $('status').textContent = 'queued (position ' + JSON.parse(m.data).position + ')' })
  es.addEventListener('progress', (m) => { const p = JSON.parse(m.data); $('status').textContent = STAGES[p.stage] + ' ' + p.step + '/' + p.steps; $('bar').value = p.step / p.steps })
  es.addEventListener('succeeded', (m) => {
    es.close(); $('cancel').disabled = true; $('bar').value = 1; $('status').textContent = 'done'
    const d = JSON.parse(m.data).data[0]; const r = { url: d.url, prompt: body.prompt }; show(r)
    const list = [r, ...JSON.parse(localStorage.getItem('recent') || '[]').filter((x) => x.url !== r.url)].slice(0, 12)
    localStorage.setItem('recent', JSON.stringify(list)); recent()
  })
  es.addEventListener('failed', (m) => { es.close(); $('cancel').disabled = true; $('status').className = 'err'; $('status').textContent = JSON.parse(m.data).detail })
  es.addEventListener('canceled', () => { es.close(); $('cancel').disabled = true; $('status').textContent = 'canceled' })
}
$('cancel').onclick = () => job && fetch('/v1/jobs/' + job + '/cancel', { method: 'POST' })
recent()
</script></body></html>`
