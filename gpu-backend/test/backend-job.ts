// A signed-ready job the way the edge builds one (shared's toBackendJob): small defaults that keep tests fast,
// overridden per test.
import { type BackendJob, type Job, toBackendJob } from '../../shared/src/index.ts'

export function backendJob(over: Partial<Job> & Pick<Job, 'model_version'>): Promise<BackendJob> {
  return toBackendJob({
    v: 1,
    model: 'wuerstchen-v2',
    prompt: 'a lighthouse at dusk',
    negative_prompt: '',
    width: 512,
    height: 512,
    seed: 7,
    prior_steps: 2,
    prior_guidance: 4,
    decoder_steps: 2,
    decoder_guidance: 0,
    output_format: 'png',
    ...over,
  })
}
