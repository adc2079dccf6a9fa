// Multi-page build: each HTML page is one view; the server embeds dist/ and serves
// index.html at `/`, screen.html at `/screen`, grid.html at `/grid`, review.html at
// `/review`, work.html at `/work`, and dist/assets/*
// (content-hashed names, so the server marks them immutable).
import { defineConfig } from 'vite';
import { resolve } from 'node:path';

// `npm run dev`: the views at the paths the server gives them (/work → work.html, …).
const viewPaths = {
  name: 'minqing-view-paths',
  configureServer(server) {
    server.middlewares.use((req, _res, next) => {
      const m = /^\/(screen|grid|review|work)(\?.*)?$/.exec(req.url || '');
      if (m) req.url = `/${m[1]}.html${m[2] || ''}`;
      next();
    });
  },
};

export default defineConfig({
  base: '/',
  plugins: [viewPaths],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, 'index.html'),
        screen: resolve(import.meta.dirname, 'screen.html'),
        grid: resolve(import.meta.dirname, 'grid.html'),
        review: resolve(import.meta.dirname, 'review.html'),
        work: resolve(import.meta.dirname, 'work.html'),
      },
    },
  },
  server: {
    // `npm run dev` against a running `minqing demo` on :8080 (or MINQING_DEV_API).
    proxy: Object.fromEntries(
      ['/api', '/tiles', '/heatmap', '/style.json', '/fonts', '/healthz'].map((p) => [p, process.env.MINQING_DEV_API || 'http://127.0.0.1:8080']),
    ),
  },
});
