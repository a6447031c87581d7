// The small graphs around the model graphs when the denoising loop runs on the device (sample-on-device.ts):
// the samplers' start and step graphs, the hand-offs between stages (Würstchen v2's de-normalization, the
// unconditional zeros, casts to a graph's input type), and the copies up to and down from the device. Sessions are
// made on first use, on the model's provider, and kept.
import { Graph } from '../compiler/onnx/graph.ts'
import { concat } from '../compiler/onnx/ops.ts'
import type { ElemType } from '../compiler/onnx/proto.ts'
import type { Provider } from '../runtime/providers.ts'
import { createSession, type ort, type SessionOptions } from '../runtime/session.ts'
import type { Sampler } from '../samplers/sampler.ts'
import { type StepGraphOptions, startGraph, stepGraph } from '../samplers/step-graph.ts'

export interface HandoffOptions {
  /** x·scale − shift first (Würstchen v2's prior output -> Stage B's effnet). */
  affine?: { scale: number; shift: number }
  /** Append as many rows of zeros (the unconditional half of a guided batch). */
  zerosAfter: boolean
  /** The receiving graph's input type. */
  type: ElemType
}

/** float32 `x` -> `y` for the next graph (handoff options above). */
function handoffGraph(o: HandoffOptions): Uint8Array {
  const g = new Graph('handoff')
  const x = g.input('x', ['batch', 'c', 'h', 'w'], 'float32')
  let y = x
  if (o.affine) {
    const scaled = g.op1('Mul', [y, g.constF([o.affine.scale], [1], 'float32')])
    y = g.op1('Sub', [scaled, g.constF([o.affine.shift], [1], 'float32')])
  }
  // ConstantOfShape defaults to float32 zeros.
  if (o.zerosAfter)
    y = concat(g, [y, g.op1('ConstantOfShape', [g.op1('Shape', [y], {}, { outType: 'int64' })])], 0)
  g.output(g.cast(y, o.type), 'y', [o.zerosAfter ? 'rows' : 'batch', 'c', 'h', 'w'])
  return g.serialize()
}

function identityGraph(type: ElemType): Uint8Array {
  const g = new Graph(`identity_${type}`)
  g.output(g.op1('Identity', [g.input('x', null, type)]), 'y', null)
  return g.serialize()
}

/** Whether tensors a session leaves on the device need explicit copies to and from the host. */
const keepsOutputsOnDevice = (provider: Provider) => provider === 'webgpu'

export class DeviceGraphs {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>()

  constructor(private readonly opts: SessionOptions & { provider: Provider }) {}

  get provider(): Provider {
    return this.opts.provider
  }

  private session(key: string, build: () => Uint8Array, outputsOnDevice = true) {
    let s = this.sessions.get(key)
    if (!s) {
      s = createSession(build(), { ...this.opts, outputsOnDevice })
      this.sessions.set(key, s)
    }
    return s
  }

  /** The start and step graphs of `sampler` (one per stage: its schedule is baked in its settings). */
  async sampler(stage: string, sampler: Sampler, o: StepGraphOptions) {
    const key = `${stage}:${o.guided}:${o.predType}:${o.modelXType}`
    return {
      start: await this.session(`start:${key}`, () => startGraph(o)),
      step: await this.session(`step:${key}`, () => stepGraph(sampler, o)),
    }
  }

  handoff(o: HandoffOptions): Promise<ort.InferenceSession> {
    return this.session(`handoff:${JSON.stringify(o)}`, () => handoffGraph(o))
  }

  /** Host tensor -> device (a no-op where outputs stay on the host anyway). */
  async upload(t: ort.Tensor): Promise<ort.Tensor> {
    if (!keepsOutputsOnDevice(this.provider)) return t
    const s = await this.session(`upload:${t.type}`, () => identityGraph(t.type as ElemType))
    return (await s.run({ x: t })).y as ort.Tensor
  }

  /** Device tensor -> host data. */
  async download(t: ort.Tensor): Promise<ort.Tensor> {
    if (!keepsOutputsOnDevice(this.provider)) return t
    const s = await this.session(`download:${t.type}`, () => identityGraph(t.type as ElemType), false)
    return (await s.run({ x: t })).y as ort.Tensor
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()]
    this.sessions.clear()
    await Promise.all(all.map(async (s) => (await s).release()))
  }
}
