// Architecture configs: the official constructor arguments, as in the golden `configs/*.json`
// (`{ "class": ..., "kwargs": {...} }`) or diffusers' config.json (`{ "_class_name": ..., ... }`).
import { readFileSync } from 'node:fs'

export type Kwargs = Record<string, unknown>

export function readConfigFile(path: string): Kwargs {
  const j = JSON.parse(readFileSync(path, 'utf8')) as Kwargs
  return (j.kwargs as Kwargs | undefined) ?? j
}

/** Reads `key` from the config, falling back to `fallback` (a value read off the checkpoint or the released default). */
export function pick<T>(cfg: Kwargs | undefined, key: string, fallback: T): T {
  const v = cfg?.[key]
  return v === undefined ? fallback : (v as T)
}
