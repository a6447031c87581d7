import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

// The browser suite: `npm start`'s stack (started once by stack.ts, shared by every file), headless system
// Chromium through playwright-core, and the unchanged `openai` SDK. start.test.ts runs last: it stops the stack.
class StartLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const last = (f: TestSpecification) => (f.moduleId.endsWith('/start.test.ts') ? 1 : 0)
    return sorted.sort((a, b) => last(a) - last(b))
  }
}

export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  test: {
    include: ['test/browser/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/browser/stack.ts'],
    fileParallelism: false,
    sequence: { sequencer: StartLast },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
