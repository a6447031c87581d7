// /docs links Swagger UI's assets on the Worker itself (no CDN), versioned and cacheable for a year.
import { describe, expect, it } from 'vitest'
import { get } from './helpers.ts'

describe('GET /docs', () => {
  it('links only assets the Worker serves, and serves them', async () => {
    const page = await (await get('/docs')).text()
    expect(page).not.toMatch(/https?:\/\//)
    const links = [...page.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1] as string)
    expect(links.sort()).toEqual([
      expect.stringMatching(/^\/docs\/assets\/swagger-ui-dist@\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/),
      expect.stringMatching(/^\/docs\/assets\/swagger-ui-dist@\d+\.\d+\.\d+\/swagger-ui\.css$/),
    ])
    for (const link of links) {
      const res = await get(link)
      expect(res.status).toBe(200)
      expect(res.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable')
      const body = await res.text()
      if (link.endsWith('.js')) {
        expect(res.headers.get('Content-Type')).toMatch(/^text\/javascript/)
        expect(body).toMatch(/SwaggerUIBundle/)
      } else {
        expect(res.headers.get('Content-Type')).toMatch(/^text\/css/)
        expect(body).toMatch(/\.swagger-ui/)
      }
    }
  })
  it('answers other versions and files with 404', async () => {
    const link = /src="([^"]+)"/.exec(await (await get('/docs')).text())?.[1] as string
    expect((await get(link.replace(/@[\d.]+\//, '@0.0.1/'))).status).toBe(404)
    expect((await get(link.replace('swagger-ui-bundle.js', 'index.html'))).status).toBe(404)
  })
})
