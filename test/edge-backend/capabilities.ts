// What the edge suites' models offer (the MODEL_CAPABILITIES binding workerd.ts sets): Stable Cascade every mode,
// lite no ControlNet, Würstchen v2 (not listed) text only. Its own file: workerd suites import it too.
import type { ModelCapabilities } from '../../shared/src/index.ts'

export const TEST_CAPABILITIES: Record<string, ModelCapabilities> = {
  'stable-cascade': {
    modes: ['text', 'variation', 'img2img', 'inpainting', 'outpainting', 'canny'],
    previews: true,
  },
  'stable-cascade-lite': { modes: ['text', 'variation', 'img2img'], previews: true },
}
