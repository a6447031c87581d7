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

/**
 * Without a config, only released variants can be built: their head counts (and anything else the
 * shapes do not fix) are known. `variant` is what the shapes identified, or undefined.
 */
export function assertReleasedOrConfigured(
  what: string,
  variant: string | undefined,
  kwargs: Kwargs | undefined,
  shapes: string,
): void {
  if (kwargs || variant) return
  throw new Error(
    `${what}: the checkpoint is not a released variant (${shapes}); pass --config with its constructor arguments`,
  )
}
