import { defineConfig } from "vitest/config";

// The site is static: index.html, hashed assets and a config.json written per stage at deploy
// time (infra/publish_web.py) or served by the local stack (devstack/web.py).
export default defineConfig({
  base: "./",
  // amazon-cognito-identity-js pulls in the `buffer` package, which reads Node's `global`.
  define: { global: "globalThis" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    assetsDir: "assets",
  },
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
