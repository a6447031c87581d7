// LoRA merged into the checkpoint before the graphs are built: W' = W + strength·scale·(up @ down), added
// lazily (when the weight is written), in float32, to the whole weight or to its row block. Every problem of every
// file is found before anything changes, and reported in one error.
import type { LazyTensor, StateDict } from '../weights/state-dict.ts'
import { LoraError, type LoraFile, type LoraPart, type LowRankPair } from './lora-file.ts'
import { namedTargets, officialTargets, type Target, targetByName } from './resolve.ts'

/** Adds its change to a weight's float32 data (row-major, `cols` per row). */
type Delta = (w: Float32Array, cols: number) => void

const PART_NAMES: Record<LoraPart, string> = { unet: 'the prior (Stage C)', text: 'the text encoder' }

/** What a merged file did, for the manifest and the log. */
export interface MergedLora {
  file: string
  format: LoraFile['format']
  strength: number
  /** Weights changed (a packed in_proj counts once per q/k/v block). */
  weights: number
  /** Learned-token rows added to the token embedding. */
  tokens: number
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

/** `factor · up @ down` added to rows [from, from + out) (up: out×r, down: r×cols; conv halves flattened). */
function lowRank(up: LazyTensor, down: LazyTensor, from: number, factor: number): Delta {
  return (w, cols) => {
    const u = up.read()
    const d = down.read()
    const out = up.shape[0] as number
    const r = down.shape[0] as number
    const row = new Float64Array(cols)
    for (let i = 0; i < out; i++) {
      row.fill(0)
      for (let k = 0; k < r; k++) {
        const a = u[i * r + k] as number
        for (let j = 0; j < cols; j++) row[j] = (row[j] as number) + a * (d[k * cols + j] as number)
      }
      const o = (from + i) * cols
      for (let j = 0; j < cols; j++) w[o + j] = (w[o + j] as number) + factor * (row[j] as number)
    }
  }
}

interface Resolved {
  found: [LowRankPair, Target][]
  problems: string[]
}

function byModuleOrder(pairs: LowRankPair[], sd: StateDict): Resolved {
  const r = officialTargets(pairs, sd)
  return Array.isArray(r) ? { found: [], problems: r } : { found: [...r], problems: [] }
}

function byName(pairs: LowRankPair[], names: Map<string, Target | undefined>): Resolved {
  const out: Resolved = { found: [], problems: [] }
  for (const p of pairs) {
    const t = targetByName(p, names)
    if (typeof t === 'string') out.problems.push(t)
    else out.found.push([p, t])
  }
  return out
}

/** Checks that up @ down has the shape of the target block; the problem line if not. */
function shapeProblem(pair: LowRankPair, t: Target, sd: StateDict): string | undefined {
  const shape = sd.shapeOf(t.key) ?? []
  const rows = t.rows ? t.rows[1] - t.rows[0] : (shape[0] ?? 0)
  const cols = count(shape.slice(1))
  const got = [pair.up.shape[0], count(pair.down.shape.slice(1))]
  if (got[0] === rows && got[1] === cols) return undefined
  const block = t.rows ? `rows ${t.rows[0]}..${t.rows[1]} of ${t.key}` : t.key
  return `${pair.name}: shape mismatch, up @ down is [${got.join(', ')}] but ${block} is [${rows}, ${cols}] (${t.key} [${shape.join(', ')}])`
}

/**
 * Merges `loras` into the checkpoints of the model parts being converted (`unet`: Stage C, `text`: its text
 * encoder). Throws a LoraError naming every key that matches no weight, every shape mismatch, learned tokens that
 * cannot be applied and pairs for a part this conversion does not build; changes nothing then.
 */
export function mergeLoras(parts: Partial<Record<LoraPart, StateDict>>, loras: LoraFile[]): MergedLora[] {
  const deltas = new Map<StateDict, Map<string, Delta[]>>()
  const push = (sd: StateDict, key: string, d: Delta) => {
    const byKey = deltas.get(sd) ?? new Map<string, Delta[]>()
    byKey.set(key, [...(byKey.get(key) ?? []), d])
    deltas.set(sd, byKey)
  }
  const names = new Map<StateDict, Map<string, Target | undefined>>()
  const namesOf = (sd: StateDict) => {
    const known = names.get(sd)
    if (known) return known
    const built = namedTargets(sd)
    names.set(sd, built)
    return built
  }
  const problems: string[] = []
  const merged: MergedLora[] = []
  for (const lora of loras) {
    const own: string[] = []
    let weights = 0
    for (const part of ['unet', 'text'] as const) {
      const pairs = lora.pairs.filter((p) => p.part === part)
      if (!pairs.length) continue
      const sd = parts[part]
      if (!sd) {
        own.push(
          `${pairs.length} pairs change ${PART_NAMES[part]} (e.g. ${pairs[0]?.name}), which this conversion does not build; convert the whole model (--from)`,
        )
        continue
      }
      const { found, problems: unmatched } =
        lora.format === 'official' ? byModuleOrder(pairs, sd) : byName(pairs, namesOf(sd))
      own.push(...unmatched)
      for (const [p, t] of found) {
        const problem = shapeProblem(p, t, sd)
        if (problem) {
          own.push(problem)
          continue
        }
        push(sd, t.key, lowRank(p.up, p.down, t.rows?.[0] ?? 0, lora.strength * p.scale))
        weights++
      }
    }
    if (lora.tokens) own.push(...mergeTokens(lora, parts.text, push))
    if (own.length) problems.push(`${lora.path}:\n    ${own.join('\n    ')}`)
    merged.push({
      file: lora.path,
      format: lora.format,
      strength: lora.strength,
      weights,
      tokens: lora.tokens?.indices.length ?? 0,
    })
  }
  if (problems.length) {
    const shown = problems.join('\n  ')
    throw new LoraError(`cannot merge the LoRA files, nothing was converted:\n  ${shown}`)
  }
  for (const [sd, byKey] of deltas)
    for (const [key, ds] of byKey)
      sd.replace(key, (t) => ({
        shape: t.shape,
        dtype: 'F32',
        read: () => {
          // A copy: in-memory checkpoints hand out their own array.
          const w = t.read().slice()
          const cols = count(t.shape.slice(1))
          for (const d of ds) d(w, cols)
          return w
        },
      }))
  return merged
}

/**
 * The official format's learned tokens (ReToken): `deltas[i]` added to row `indices[i]` of the token embedding,
 * times the strength. Ids past the vocabulary are tokens the training added to its tokenizer (the file keeps
 * ids, not their text), so they cannot be applied.
 */
function mergeTokens(
  lora: LoraFile,
  sd: StateDict | undefined,
  push: (sd: StateDict, key: string, d: Delta) => void,
): string[] {
  const tokens = lora.tokens
  if (!tokens) return []
  const what = `learned-token embeddings (${tokens.keys.join(', ')})`
  if (!sd) return [`${what} change the text encoder, which this conversion does not build`]
  const key = sd.keys().find((k) => k.endsWith('embeddings.token_embedding.weight'))
  const [vocab = 0, width = 0] = key ? (sd.shapeOf(key) ?? []) : []
  const beyond = tokens.indices.filter((i) => i < 0 || i >= vocab)
  if (!key || beyond.length)
    return [
      `${what} cannot be applied: token ids ${beyond.join(', ')} are not in the text encoder's vocabulary of ${vocab} (they are tokens added to the tokenizer in training; the file keeps their ids, not their text)`,
    ]
  if (tokens.deltas.shape[0] !== tokens.indices.length || tokens.deltas.shape[1] !== width)
    return [
      `${what}: shape mismatch, [${tokens.deltas.shape.join(', ')}] for ${tokens.indices.length} ids of width ${width}`,
    ]
  push(sd, key, (w, cols) => {
    const d = tokens.deltas.read()
    tokens.indices.forEach((row, i) => {
      for (let j = 0; j < cols; j++)
        w[row * cols + j] = (w[row * cols + j] as number) + lora.strength * (d[i * cols + j] as number)
    })
  })
  return []
}
