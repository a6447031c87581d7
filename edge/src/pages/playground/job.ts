// Playground script, part 4: Generate starts a job (POST /v1/jobs) and follows its Server-Sent Events (queued,
// progress, preview, succeeded | failed | canceled); Cancel asks POST /v1/jobs/{id}/cancel and the job's own
// `canceled` event (or the cancel answer) ends the run. #status carries the run's state in data-state; #live
// shows the latest preview of Stage C while the job runs.
export const JOB_JS = String.raw`
let current = null // { id, events, body, model, started }

function setStatus(text, state) {
  $('status').textContent = text
  $('status').dataset.state = state
}

function setBusy(busy) {
  $('generate').disabled = busy
  $('cancel').disabled = !busy
}

/** A problem+json body (or anything else) as one readable line. */
function problemText(p, res) {
  if (!p || typeof p !== 'object') return 'HTTP ' + (res ? res.status : '?')
  const fields = Array.isArray(p.errors) ? ': ' + p.errors.map((e) => e.path + ' ' + e.message).join('; ') : ''
  const retry = res && res.headers.get('Retry-After') ? ' (retry in ' + res.headers.get('Retry-After') + ' s)' : ''
  return (p.detail || p.title || 'HTTP ' + p.status) + fields + retry
}

function finish(state, text) {
  if (current && current.events) current.events.close()
  current = null
  setBusy(false)
  setStatus(text, state)
  endProgress(state)
  $('live').hidden = true
}

/** A 'preview' event: { stage, step, steps, content_type, b64, image? }; the first image's are shown. */
function onPreview(p) {
  if ((p.image ?? 0) !== 0) return
  $('preview').src = 'data:' + p.content_type + ';base64,' + p.b64
  $('preview').dataset.step = String(p.step)
  $('preview-step').textContent = 'Stage C, step ' + p.step + ' of ' + p.steps
  $('live').hidden = false
}

async function generate(event) {
  event.preventDefault()
  if (current) return
  let body
  try {
    body = requestBody()
  } catch (e) {
    return setStatus(e.message, 'failed')
  }
  const model = currentModel()
  if (!model) return setStatus('No model to generate with.', 'failed')
  setBusy(true)
  $('cancel').disabled = true // until the job exists
  resetProgress(body.n ?? 1)
  setStatus('Submitting…', 'submitting')
  let res
  let json
  try {
    res = await fetch('/v1/jobs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    })
    json = await res.json()
  } catch (e) {
    return finish('failed', 'Request failed: ' + e.message)
  }
  if (!res.ok) return finish('failed', problemText(json, res))
  current = { id: json.id, body, model, started: performance.now() }
  $('cancel').disabled = false
  setStatus(json.status === 'queued' ? 'Queued…' : 'Running…', json.status)
  follow(json.events_url)
}

function follow(url) {
  const job = current
  const events = new EventSource(url)
  job.events = events
  const data = (m) => JSON.parse(m.data)
  events.addEventListener('queued', (m) => {
    const { position } = data(m)
    setStatus(position > 0 ? 'Queued, position ' + position : 'Queued…', 'queued')
  })
  events.addEventListener('progress', (m) => {
    if (current !== job) return
    setStatus('Running: ' + onProgress(data(m)), 'running')
  })
  events.addEventListener('preview', (m) => current === job && onPreview(data(m)))
  events.addEventListener('succeeded', (m) => {
    if (current !== job) return
    const seconds = (performance.now() - job.started) / 1000
    const results = resultsOf(job.body, job.model, data(m).data, seconds)
    finish('succeeded', 'Done in ' + seconds.toFixed(1) + ' s')
    showResults(results)
    remember(results)
  })
  events.addEventListener('failed', (m) => current === job && finish('failed', 'Failed: ' + problemText(data(m))))
  events.addEventListener('canceled', () => current === job && finish('canceled', 'Canceled'))
  // A dropped connection reconnects by itself (the job replays its events); a refused one ends the run.
  events.onerror = () => {
    if (current === job && events.readyState === EventSource.CLOSED) finish('failed', 'Lost the job\'s events')
  }
}

async function cancel() {
  const job = current
  if (!job) return
  $('cancel').disabled = true
  setStatus('Canceling…', 'canceling')
  try {
    const res = await fetch('/v1/jobs/' + encodeURIComponent(job.id) + '/cancel', { method: 'POST' })
    const state = await res.json()
    if (current !== job) return // the job's own event ended the run first
    if (!res.ok) return setStatus('Cancel failed: ' + problemText(state, res), 'running')
    if (state.status === 'canceled') finish('canceled', 'Canceled')
    // Otherwise it had already finished: its succeeded / failed event is on its way.
  } catch (e) {
    if (current === job) setStatus('Cancel failed: ' + e.message, 'running')
  }
}

form.addEventListener('submit', generate)
$('cancel').addEventListener('click', cancel)
`
