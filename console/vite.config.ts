import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// Served by the API at /console/ (service/api/console.py). No inline script or style is
// emitted (the page's Content-Security-Policy forbids them); ECharts and the evaluation
// screen load on demand.
export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    cssCodeSplit: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: { manualChunks: { leaflet: ['leaflet', 'leaflet.markercluster'] } },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
  },
} as any)
