// GET /: the playground. One self-contained HTML page (no framework, no build step): the markup, the styles and
// a module script assembled from small parts under playground/, each a plain-JS string the browser runs as is.
//   form.ts     models (GET /v1/models), the demo banner, the parameters -> a request body
//   inputs.ts   image inputs: mode picker, upload / drop, strength, mask brush, outpainting, canny
//   progress.ts one bar per pipeline stage, driven by the job's `progress` events
//   job.ts      POST /v1/jobs, its SSE events (live previews too), POST /v1/jobs/{id}/cancel
//   results.ts  the image(s) with their parameters, recent results in localStorage
import { FORM_JS } from './playground/form.ts'
import { INPUTS_JS } from './playground/inputs.ts'
import { JOB_JS } from './playground/job.ts'
import { MARKUP } from './playground/markup.ts'
import { PROGRESS_JS } from './playground/progress.ts'
import { RESULTS_JS } from './playground/results.ts'
import { STYLES } from './playground/styles.ts'

export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>cascade-edge playground</title>
<link rel="icon" href="data:,">
<style>${STYLES}</style>
</head>
<body>
${MARKUP}
<script type="module">
${FORM_JS}
${INPUTS_JS}
${PROGRESS_JS}
${RESULTS_JS}
${JOB_JS}
</script>
</body>
</html>
`
