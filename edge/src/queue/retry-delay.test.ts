import { describe, expect, it } from 'vitest'
import { retryDelayS } from './retry-delay.ts'

describe('retryDelayS', () => {
  const policy = { baseS: 2, maxS: 60 }
  it('doubles with each attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((a) => retryDelayS(a, policy))).toEqual([
      2, 4, 8, 16, 32, 60, 60, 60,
    ])
  })
  it('waits at least what the pool asked for, never past the cap', () => {
    expect(retryDelayS(1, policy, 7)).toBe(7)
    expect(retryDelayS(4, policy, 7)).toBe(16)
    expect(retryDelayS(1, policy, 600)).toBe(60)
  })
  it('whole seconds', () => {
    expect(retryDelayS(1, { baseS: 0.5, maxS: 10 }, 1.2)).toBe(2)
    expect(retryDelayS(1, { baseS: 0, maxS: 10 })).toBe(0)
  })
})
