// cv2.Canny(image, low, high) of OpenCV 4.6 (modules/imgproc/src/canny.cpp) for aperture 3 and the L1 gradient,
// bit for bit: 3×3 Sobel with replicated borders in integers, on a multi-channel image the channel with the
// largest |dx| + |dy| per pixel (the first one on ties), non-maximum suppression with OpenCV's fixed-point
// tangent test (tan 22.5° as 13573 / 2^15), then hysteresis: a pixel is an edge when it survives suppression
// above `low` and is 8-connected through such pixels to one above `high`.

const SHIFT = 15
const TG22 = Math.trunc(0.4142135623730951 * (1 << SHIFT) + 0.5)

export interface Gray8 {
  data: Uint8Array
  width: number
  height: number
}

/**
 * `planes`: the channels of one image, each height × width uint8 (row-major). Returns 255 on edges, else 0.
 * OpenCV compares `m > low` and `m > high` with the thresholds floored to integers.
 */
export function canny(planes: Uint8Array[], width: number, height: number, low: number, high: number): Gray8 {
  const lo = Math.floor(Math.min(low, high))
  const hi = Math.floor(Math.max(low, high))
  const n = width * height
  const mag = new Int32Array(n)
  const dx = new Int16Array(n)
  const dy = new Int16Array(n)
  const at = (p: Uint8Array, y: number, x: number) =>
    p[Math.min(Math.max(y, 0), height - 1) * width + Math.min(Math.max(x, 0), width - 1)] as number
  for (const p of planes)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const gx =
          at(p, y - 1, x + 1) +
          2 * at(p, y, x + 1) +
          at(p, y + 1, x + 1) -
          (at(p, y - 1, x - 1) + 2 * at(p, y, x - 1) + at(p, y + 1, x - 1))
        const gy =
          at(p, y + 1, x - 1) +
          2 * at(p, y + 1, x) +
          at(p, y + 1, x + 1) -
          (at(p, y - 1, x - 1) + 2 * at(p, y - 1, x) + at(p, y - 1, x + 1))
        const m = Math.abs(gx) + Math.abs(gy)
        const i = y * width + x
        // The first channel wins ties: a later one replaces it only when strictly stronger.
        if (p === planes[0] || m > (mag[i] as number)) {
          mag[i] = m
          dx[i] = gx
          dy[i] = gy
        }
      }

  // 0: may be an edge, 1: cannot be, 2: is an edge. Outside the image magnitudes read as 0.
  const magAt = (y: number, x: number) =>
    y < 0 || y >= height || x < 0 || x >= width ? 0 : (mag[y * width + x] as number)
  const map = new Uint8Array(n).fill(1)
  const stack: number[] = []
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x
      const m = mag[i] as number
      if (m <= lo || !isLocalMax(m, dx[i] as number, dy[i] as number, y, x, magAt)) continue
      map[i] = m > hi ? 2 : 0
      if (m > hi) stack.push(i)
    }
  while (stack.length) {
    const i = stack.pop() as number
    const y = Math.floor(i / width)
    const x = i - y * width
    for (let ny = Math.max(y - 1, 0); ny <= Math.min(y + 1, height - 1); ny++)
      for (let nx = Math.max(x - 1, 0); nx <= Math.min(x + 1, width - 1); nx++) {
        const j = ny * width + nx
        if (map[j] === 0) {
          map[j] = 2
          stack.push(j)
        }
      }
  }
  return { data: map.map((v) => (v === 2 ? 255 : 0)), width, height }
}

/** OpenCV's suppression: compare along the gradient's sector (horizontal, vertical or a diagonal). */
function isLocalMax(
  m: number,
  xs: number,
  ys: number,
  y: number,
  x: number,
  magAt: (y: number, x: number) => number,
): boolean {
  const ax = Math.abs(xs)
  const ay = Math.abs(ys) * (1 << SHIFT)
  const tg22x = ax * TG22
  if (ay < tg22x) return m > magAt(y, x - 1) && m >= magAt(y, x + 1)
  const tg67x = tg22x + ax * (1 << (SHIFT + 1))
  if (ay > tg67x) return m > magAt(y - 1, x) && m >= magAt(y + 1, x)
  const s = (xs ^ ys) < 0 ? -1 : 1
  return m > magAt(y - 1, x - s) && m > magAt(y + 1, x + s)
}
