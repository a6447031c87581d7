// What the workerd suites' jobs queue and operator route are configured with (workerd.ts), for the tests that
// count deliveries or call GET /metrics. Plain constants: imported both by the Node-side config and in workerd.
export const JOB_QUEUE_RETRIES = 2
export const METRICS_TOKEN = 'test-metrics-token'
