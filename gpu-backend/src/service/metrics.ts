// A minimal Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms with labels.
// The service's metrics are declared once in `serviceMetrics`.

type Labels = Record<string, string>

const labelKey = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',')

const braces = (key: string) => (key ? `{${key}}` : '')

interface Metric {
  render(): string
}

abstract class Series<T> implements Metric {
  protected readonly series = new Map<string, T>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
  protected abstract lines(key: string, value: T): string[]
  get(labels: Labels = {}): T | undefined {
    return this.series.get(labelKey(labels))
  }
  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`]
    for (const [key, value] of this.series) out.push(...this.lines(key, value))
    return out.join('\n')
  }
}

export class Counter extends Series<number> {
  constructor(name: string, help: string) {
    super(name, help, 'counter')
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels)
    this.series.set(k, (this.series.get(k) ?? 0) + by)
  }
  protected lines(key: string, v: number): string[] {
    return [`${this.name}${braces(key)} ${v}`]
  }
}

export class Gauge extends Series<number> {
  constructor(name: string, help: string) {
    super(name, help, 'gauge')
  }
  set(labels: Labels, v: number): void {
    this.series.set(labelKey(labels), v)
  }
  protected lines(key: string, v: number): string[] {
    return [`${this.name}${braces(key)} ${v}`]
  }
}

interface Buckets {
  counts: number[]
  sum: number
  count: number
}

export class Histogram extends Series<Buckets> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram')
  }
  observe(labels: Labels, v: number): void {
    const k = labelKey(labels)
    let b = this.series.get(k)
    if (!b) {
      b = { counts: this.bounds.map(() => 0), sum: 0, count: 0 }
      this.series.set(k, b)
    }
    this.bounds.forEach((le, i) => {
      if (v <= le) (b as Buckets).counts[i] = ((b as Buckets).counts[i] as number) + 1
    })
    b.sum += v
    b.count += 1
  }
  protected lines(key: string, b: Buckets): string[] {
    const sep = key ? `${key},` : ''
    return [
      ...this.bounds.map((le, i) => `${this.name}_bucket{${sep}le="${le}"} ${b.counts[i]}`),
      `${this.name}_bucket{${sep}le="+Inf"} ${b.count}`,
      `${this.name}_sum${braces(key)} ${b.sum}`,
      `${this.name}_count${braces(key)} ${b.count}`,
    ]
  }
}

export class Registry {
  readonly #metrics: Metric[] = []
  register<M extends Metric>(m: M): M {
    this.#metrics.push(m)
    return m
  }
  render(): string {
    return `${this.#metrics.map((m) => m.render()).join('\n')}\n`
  }
}

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120]

export function serviceMetrics() {
  const registry = new Registry()
  return {
    registry,
    backendInfo: registry.register(
      new Gauge(
        'cascade_backend_info',
        'Models served here and the execution provider each runs on (value 1)',
      ),
    ),
    queueDepth: registry.register(new Gauge('cascade_queue_depth', 'Jobs waiting in the queue, per model')),
    running: registry.register(new Gauge('cascade_jobs_running', 'Jobs in the batch now running, per model')),
    freeSlots: registry.register(
      new Gauge('cascade_free_slots', 'Jobs the model would admit now (0: a new job gets 503), per model'),
    ),
    batchSize: registry.register(
      new Histogram('cascade_batch_size', 'Jobs per pipeline run', [1, 2, 3, 4, 6, 8, 12, 16]),
    ),
    stageSeconds: registry.register(
      new Histogram(
        'cascade_stage_seconds',
        'Latency per pipeline phase (queue, text, stage_c, stage_b, stage_a, encode)',
        SECONDS,
      ),
    ),
    images: registry.register(
      new Counter('cascade_images_generated_total', 'Images generated and sent, per model'),
    ),
    steps: registry.register(
      new Counter(
        'cascade_steps_total',
        'Pipeline steps run (model calls of text, stage_c, stage_b, stage_a)',
      ),
    ),
    errors: registry.register(new Counter('cascade_errors_total', 'Failed requests and jobs, by error code')),
    requests: registry.register(
      new Counter('cascade_requests_total', 'Generate requests answered, by HTTP status and mode'),
    ),
  }
}

export type ServiceMetrics = ReturnType<typeof serviceMetrics>
