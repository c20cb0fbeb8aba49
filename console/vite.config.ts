import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The console is served by hcp at /console/. In development (`npm run dev`) the API is proxied
// to a running hcp: HCP_API=http://127.0.0.1:8080 by default.
const api = process.env.HCP_API ?? 'http://127.0.0.1:8080'

export default defineConfig({
  base: '/console/',
  resolve: { alias: { '@': new URL('./src', import.meta.url).pathname } },
  plugins: [
    vue(),
    // Element Plus components and their styles are imported where used, so each screen's
    // chunk carries only what it renders.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: false }),
    Components({ resolvers: [ElementPlusResolver()], dts: false }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender') || id.includes('vue-echarts')) return 'charts'
          if (id.includes('node_modules/@codemirror') || id.includes('node_modules/@lezer') || id.includes('node_modules/style-mod') || id.includes('node_modules/crelt') || id.includes('node_modules/w3c-keyname')) return 'editor'
          return undefined
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/public': { target: api },
      '/w/': { target: api },
      '/r/': { target: api },
      '/t/': { target: api },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
})
