import { defineConfig } from "vite";

/** The dashboard: a single page served by the API at `/`; built to dashboard/dist. */
export default defineConfig({
  base: "/",
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
