import { defineConfig, type Plugin } from "vite";
import { prefetchScript } from "./src/api/prefetch";

/** Puts the first-paint query's inline script at the top of index.html (src/api/prefetch.ts). */
const prefetch: Plugin = {
  name: "weft-first-paint-prefetch",
  transformIndexHtml: () => [
    { tag: "script", children: prefetchScript(), injectTo: "head-prepend" },
  ],
};

/** The dashboard: a single page served by the API at `/`; built to dashboard/dist. */
export default defineConfig({
  base: "/",
  plugins: [prefetch],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 800,
  },
  oxc: { jsx: { runtime: "automatic", importSource: "react" } },
  server: {
    // `npx vite dashboard` during development: the API (npm start) answers /graphql.
    proxy: { "/graphql": { target: "http://127.0.0.1:8080", ws: true } },
  },
});
