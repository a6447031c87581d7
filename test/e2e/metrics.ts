// The e2e suites' view of the backend's Prometheus metrics.
import { E2E_BACKEND } from './stack.ts'

/** Images the backend generated, over every model it serves. */
export async function imagesGenerated(): Promise<number> {
  const text = await (await fetch(`${E2E_BACKEND}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => /^cascade_images_generated_total(\{.*\})? /.test(l))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0)
}
