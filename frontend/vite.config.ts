/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The built dashboard ships inside the Python package: backend/web is served at "/".
const outDir = fileURLToPath(new URL("../backend/web", import.meta.url));

export default defineConfig({
  base: "/",
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    rollupOptions: {
      // Two pages: the dashboard and the status window's page (sharing sign-in and connection).
      input: {
        index: fileURLToPath(new URL("index.html", import.meta.url)),
        status: fileURLToPath(new URL("status.html", import.meta.url)),
      },
    },
  },
  server: {
    // `npm run dev` against a backend on SCHMUX_BACKEND (e.g. http://127.0.0.1:8765).
    proxy: process.env.SCHMUX_BACKEND
      ? {
          "/api": process.env.SCHMUX_BACKEND,
          "/ws": { target: process.env.SCHMUX_BACKEND, ws: true },
        }
      : undefined,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
