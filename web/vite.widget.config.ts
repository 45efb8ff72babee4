import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The widget, in two builds (`npm run build:widget`):
 *   --mode loader  web/widget/loader.ts → dist/web/widget/widget.js   (IIFE: a classic <script> on merchants' pages)
 *   --mode call    web/widget/call.ts   → dist/web/widget/call.js     (ES module, imported on the first click;
 *                  room.ts and livekit-client become chunks loaded only for LiveKit calls)
 * webdial serves the folder: GET /widget.js (loader) and /widget/* (call client and chunks).
 */
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig(({ mode }) => {
  const loader = mode === 'loader';
  return {
    root: here('./widget'),
    publicDir: false,
    logLevel: 'warn',
    build: {
      outDir: here('../dist/web/widget'),
      emptyOutDir: !loader, // the call build runs first and clears the folder
      target: 'es2020',
      sourcemap: true,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 700, // livekit-client is ~580 kB minified (~150 kB gzipped), loaded for LiveKit calls only
      minify: 'esbuild',
      // Library mode for the IIFE only: an ES library build would skip minification, and the call
      // client is an app entry (its export `start` kept), not a library for bundlers.
      lib: loader ? { entry: here('./widget/loader.ts'), formats: ['iife'], name: 'webdialWidget', fileName: () => 'widget.js' } : false,
      rollupOptions: loader
        ? {}
        : {
            input: here('./widget/call.ts'),
            preserveEntrySignatures: 'exports-only',
            output: { format: 'es', entryFileNames: 'call.js', chunkFileNames: 'chunks/[name]-[hash].js' },
          },
    },
  };
});
