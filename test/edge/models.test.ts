// GET /v1/models shows the LoRA files merged into each model (MODEL_LORAS, from the models' manifests).
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../edge/src/app.ts'
import { ModelList } from '../../shared/src/index.ts'
import { BASE, freshIp } from './helpers.ts'

const lora = { file: 'style.safetensors', sha256: 'ab'.repeat(32), strength: 0.8 }

async function models(loras: string | undefined) {
  const res = await createApp().request(
    `${BASE}/v1/models`,
    { headers: { 'CF-Connecting-IP': freshIp() } },
    { ...env, MODEL_LORAS: loras },
  )
  expect(res.status).toBe(200)
  return ModelList.parse(await res.json()).data
}

describe('GET /v1/models: LoRA files', () => {
  it('lists the merged LoRA files of a model, and none for the others', async () => {
    const data = await models(JSON.stringify({ 'stable-cascade': [lora] }))
    expect(data.find((m) => m.id === 'stable-cascade')?.loras).toEqual([lora])
    for (const m of data.filter((m) => m.id !== 'stable-cascade')) expect(m.loras).toEqual([])
  })
  it('lists none when MODEL_LORAS is unset', async () => {
    for (const m of await models(undefined)) expect(m.loras).toEqual([])
  })
})
