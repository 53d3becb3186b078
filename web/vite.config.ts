// Vite builds the console into web/dist/, which is committed and embedded in
// the ferry binary (cmake/console_assets.cmake). Relative asset URLs so the
// page works under any path prefix; no source maps (they would double the
// binary's share of the console for no runtime use).
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npm run dev` against a local broker: the API is proxied to the
    // broker's management listener.
    proxy: { "/api": "http://127.0.0.1:15672" },
  },
});
