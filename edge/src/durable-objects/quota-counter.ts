// Exact daily generation quota per identity (one object per identity). Single-threaded, so check-and-increment
// is atomic. The count resets when the UTC day changes.
import { DurableObject } from 'cloudflare:workers'
import type { Bindings } from '../env.ts'

export interface QuotaResult {
  ok: boolean
  used: number
  remaining: number
}

export class QuotaCounter extends DurableObject<Bindings> {
  /** Adds `n` to today's count unless that would pass `limit`. `day` is the UTC date (YYYY-MM-DD). */
  async consume(n: number, limit: number, day: string): Promise<QuotaResult> {
    const rec = (await this.ctx.storage.get<{ day: string; used: number }>('quota')) ?? { day, used: 0 }
    const used = rec.day === day ? rec.used : 0
    if (used + n > limit) return { ok: false, used, remaining: Math.max(0, limit - used) }
    await this.ctx.storage.put('quota', { day, used: used + n })
    return { ok: true, used: used + n, remaining: limit - used - n }
  }

  /** Gives back `n` images charged today for work that was refused (the jobs queue did not take it). */
  async refund(n: number, limit: number, day: string): Promise<QuotaResult> {
    const rec = await this.ctx.storage.get<{ day: string; used: number }>('quota')
    const used = rec?.day === day ? Math.max(0, rec.used - n) : 0
    if (rec?.day === day) await this.ctx.storage.put('quota', { day, used })
    return { ok: true, used, remaining: Math.max(0, limit - used) }
  }
}
