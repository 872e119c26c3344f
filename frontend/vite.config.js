// Builds the page of `runlab ui` into the Python package, where the server
// returns index.html for every page path and the assets under /static/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/static/',
  build: {
    outDir: '../src/runlab/server/static',
    emptyOutDir: true,
    // The polyfill would be dead weight: every browser the page supports
    // knows modulepreload, and the CSP forbids inline scripts anyway.
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
