// Which checkpoint weight each LoRA pair changes. The community formats name the module (`.` written `_`, or
// diffusers' split attention); the official one lists its pairs in module order. Checkpoint keys are the
// official ones (stages.ts maps diffusers checkpoints onto them first).
import type { StateDict } from '../weights/state-dict.ts'
import type { LowRankPair } from './lora-file.ts'

/** A weight, or a block of its rows (q, k or v of a packed `in_proj_weight`). */
export interface Target {
  key: string
  /** Rows [from, to) of the weight; the whole weight when absent. */
  rows?: [number, number]
}

const QKV = ['q', 'k', 'v'] as const

/**
 * Every name a community file may use for a weight of `sd`: each `<module>.weight` as `<module with _>`, and for
 * nn.MultiheadAttention's packed `…attn.in_proj_weight` the split names kohya/ComfyUI (`…_attn_to_q`) and
 * diffusers (`…_to_q`, `…_to_out_0`) give its row thirds and out_proj. Built from the real keys, never by
 * parsing underscores (`down_blocks`, `kv_mapper` contain them). Names two keys share map to undefined.
 */
export function namedTargets(sd: StateDict): Map<string, Target | undefined> {
  const names = new Map<string, Target | undefined>()
  const add = (name: string, t: Target) => {
    const u = name.replaceAll('.', '_')
    names.set(u, names.has(u) ? undefined : t)
  }
  for (const key of sd.keys()) {
    if (key.endsWith('.weight')) add(key.slice(0, -'.weight'.length), { key })
    const mha = /^(.*)\.in_proj_weight$/.exec(key)
    if (!mha) continue
    const module = mha[1] as string
    const c = (sd.shapeOf(key)?.[0] ?? 0) / 3
    const split = (prefix: string) =>
      QKV.forEach((n, i) => {
        add(`${prefix}.to_${n}`, { key, rows: [i * c, (i + 1) * c] })
      })
    split(module)
    if (module.endsWith('.attn')) {
      const attention = module.slice(0, -'.attn'.length)
      split(attention)
      add(`${attention}.to_out.0`, { key: `${module}.out_proj.weight` })
    }
  }
  return names
}

/** Where a named pair (kohya, PEFT) goes; a string says why it has no target. */
export function targetByName(pair: LowRankPair, names: Map<string, Target | undefined>): Target | string {
  const u = pair.module.replaceAll('.', '_')
  if (!names.has(u)) return `${pair.name}: matches no weight`
  return names.get(u) ?? `${pair.name}: ambiguous, names more than one weight`
}

/** Stage C registers down_blocks before up_blocks (SC modules/stage_c.py); indices count up within each. */
const REGISTRATION_ORDER = ['down_blocks', 'up_blocks', 'blocks']

function compareModulePaths(a: string, b: string): number {
  const sa = a.split('.')
  const sb = b.split('.')
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const x = sa[i] as string
    const y = sb[i] as string
    if (x === y) continue
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) return Number(x) - Number(y)
    const rx = REGISTRATION_ORDER.indexOf(x)
    const ry = REGISTRATION_ORDER.indexOf(y)
    return rx !== ry ? rx - ry : x < y ? -1 : 1
  }
  return sa.length - sb.length
}

/**
 * The official format (`apply_lora(filters=['.attn'])`): one pair per parametrized weight of every `.attn`
 * module, in `model.modules()` order. Inside an nn.MultiheadAttention the `out_proj` child comes before the
 * parametrization added for `in_proj_weight`, so each attention gives two pairs; which is which is decided by
 * the up half's rows (c vs 3c), not by position. Returns the targets, or the problems.
 */
export function officialTargets(pairs: LowRankPair[], sd: StateDict): Map<LowRankPair, Target> | string[] {
  const modules = sd
    .keys()
    .map((k) => /^(.*\.attn)\.in_proj_weight$/.exec(k)?.[1])
    .filter((m): m is string => m !== undefined)
    .sort(compareModulePaths)
  if (pairs.length !== 2 * modules.length)
    return [
      `the official format has one pair per weight of each '.attn' module; this file has ${pairs.length} pairs, the checkpoint ${modules.length} attention modules (${2 * modules.length} weights)`,
    ]
  const out = new Map<LowRankPair, Target>()
  const problems: string[] = []
  modules.forEach((m, i) => {
    const weights = [`${m}.out_proj.weight`, `${m}.in_proj_weight`]
    const found = pairs.slice(2 * i, 2 * i + 2).map((p) => {
      const key = weights.find((w) => sd.shapeOf(w)?.[0] === p.up.shape[0])
      if (key) out.set(p, { key })
      else
        problems.push(
          `${p.name}: up [${p.up.shape.join(', ')}] fits neither ${weights.map((w) => `${w} [${sd.shapeOf(w)?.join(', ')}]`).join(' nor ')}`,
        )
      return key
    })
    if (found[0] && found[0] === found[1])
      problems.push(
        `${pairs[2 * i]?.name} and ${pairs[2 * i + 1]?.name}: both fit ${found[0]}, none fits the other weight of ${m}`,
      )
  })
  return problems.length ? problems : out
}
