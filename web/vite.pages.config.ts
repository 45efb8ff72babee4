import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * The people's pages (issue 12): /console, /dashboard and /history, bundled at build time into
 * static files that webdial serves (src/composition/pages.ts). Preact through esbuild's automatic
 * JSX runtime, no plugins; no CDN. `npm run build:pages` runs this after type-checking the pages.
 */
const pages = resolve(__dirname, 'pages');

export default defineConfig({
  root: pages,
  base: '/pages/',
  publicDir: false,
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: resolve(__dirname, '..', 'dist', 'web', 'pages'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 700, // the console's LiveKit room join (livekit-client, ~580 kB minified), loaded on the first answer only
    rollupOptions: {
      input: {
        console: resolve(pages, 'console.html'),
        dashboard: resolve(pages, 'dashboard.html'),
        history: resolve(pages, 'history.html'),
      },
    },
  },
});
