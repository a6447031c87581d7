// A cli-progress bar per graph: tensors written out of the graph's total.
import cliProgress from 'cli-progress'
import type { Progress } from '../compiler/convert.ts'

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
