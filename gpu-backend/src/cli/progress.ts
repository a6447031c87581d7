// cli-progress bars: per graph, tensors written out of the graph's total; for `pull`, bytes downloaded.
import cliProgress from 'cli-progress'
import type { Progress } from '../compiler/convert.ts'
import type { DownloadProgress } from '../pull/pull.ts'

export function progressBar(): Progress {
  const bar = new cliProgress.SingleBar(
    { format: '{label} [{bar}] {value}/{total} tensors {tensor}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  )
  return {
    start: (label, total) => bar.start(total, 0, { label, tensor: '' }),
    tick: (tensor) => bar.increment(1, { tensor: tensor.length > 48 ? `…${tensor.slice(-47)}` : tensor }),
    stop: () => bar.stop(),
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`

export function downloadBar(): DownloadProgress {
  const bar = new cliProgress.SingleBar(
    {
      format: 'download [{bar}] {percentage}% {done} of {size} {file}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  )
  let done = 0
  let size = 0
  return {
    start: (total, already) => {
      done = already
      size = total
      bar.start(total, already, { done: mb(done), size: mb(size), file: '' })
    },
    file: (path) => bar.update({ file: path }),
    bytes: (n) => {
      done += n
      bar.update(done, { done: mb(done) })
    },
    stop: () => bar.stop(),
  }
}
