// Diffusers-format checkpoints store attention as separate to_q / to_k / to_v / to_out.0 tensors;
// the original format packs q, k, v into nn.MultiheadAttention's in_proj_*. The graph builders read
// original names, so diffusers keys are mapped onto them here (lazily: nothing is read).
import { type LazyTensor, type StateDict, stackRows } from './state-dict.ts'

const TO_QKV = /^(.*\.attention)\.to_(q|k|v)\.(weight|bias)$/
const TO_OUT = /^(.*\.attention)\.to_out\.0\.(weight|bias)$/

/**
 * Stage B only (detected by its `effnet_mapper`): diffusers names the pooled-CLIP mapper as Stage C
 * does (`clip_txt_pooled_mapper`), the original StageB `clip_mapper`.
 */
export function renameStageBClipMapper(sd: StateDict): void {
  if (!sd.keys().some((k) => k.startsWith('effnet_mapper.'))) return
  sd.rename((k) => k.replace(/^clip_txt_pooled_mapper\./, 'clip_mapper.'))
}

export function isDiffusersFormat(sd: StateDict): boolean {
  return sd.keys().some((k) => TO_QKV.test(k) || TO_OUT.test(k))
}

/** Packs `…attention.to_{q,k,v}.*` into `…attention.attn.in_proj_*` and renames `to_out.0` to `attn.out_proj`. */
export function packDiffusersAttention(sd: StateDict): void {
  const groups = new Map<string, Partial<Record<'q' | 'k' | 'v', LazyTensor>>>()
  for (const key of sd.keys()) {
    const m = TO_QKV.exec(key)
    if (m) {
      const id = `${m[1]}|${m[3]}`
      const group = groups.get(id) ?? {}
      group[m[2] as 'q' | 'k' | 'v'] = sd.take(key, sd.shapeOf(key)?.map(() => null) ?? [])
      groups.set(id, group)
      sd.delete(key)
      continue
    }
    const o = TO_OUT.exec(key)
    if (o) {
      const t = sd.take(key, sd.shapeOf(key)?.map(() => null) ?? [])
      sd.delete(key)
      sd.set(`${o[1]}.attn.out_proj.${o[2]}`, t)
    }
  }
  for (const [id, { q, k, v }] of groups) {
    const [prefix, kind] = id.split('|') as [string, string]
    const name = `${prefix}.attn.in_proj_${kind}`
    if (!q || !k || !v) {
      // Leave the incomplete set visible to the completeness check under its packed name.
      continue
    }
    sd.set(name, stackRows([q, k, v]))
  }
}
