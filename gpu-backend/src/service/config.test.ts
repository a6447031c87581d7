import { describe, expect, it } from 'vitest'
import { readConfig } from './config.ts'

const base = { BACKEND_SECRET: 's', MODEL_DIR: '/models/sc' }

describe('service configuration', () => {
  it("leaves onnxruntime's thread count to onnxruntime unless ORT_THREADS is set", () => {
    expect(readConfig(base).intraOpThreads).toBe(0)
    expect(readConfig({ ...base, ORT_THREADS: '1' }).intraOpThreads).toBe(1)
  })
  it.each(['-1', '1.5', 'two'])('refuses ORT_THREADS=%s, naming the variable', (v) => {
    expect(() => readConfig({ ...base, ORT_THREADS: v })).toThrow(
      `ORT_THREADS must be an integer ≥ 0, got "${v}"`,
    )
  })
  it('reads MAX_QUEUE before its older name and requires a model directory and the secret', () => {
    expect(readConfig({ ...base, MAX_QUEUE: '3', QUEUE_DEPTH: '9' }).queueDepth).toBe(3)
    expect(readConfig({ ...base, QUEUE_DEPTH: '9' }).queueDepth).toBe(9)
    expect(() => readConfig({ BACKEND_SECRET: 's' })).toThrow('MODEL_DIR')
    expect(() => readConfig({ MODEL_DIR: '/m' })).toThrow('BACKEND_SECRET')
  })
})
