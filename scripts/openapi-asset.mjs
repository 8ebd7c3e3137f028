// The OpenAPI document as a static asset (wrangler.toml [assets]): the
// repository's crates/core/openapi.json, kept pretty-printed for people,
// written minified to build/assets/openapi.json with the headers the
// platform serves it with (build/assets/_headers). Served by the asset
// layer, it is not in the worker's wasm (docs/architecture.md,
// "Performance decisions").
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build/assets");
mkdirSync(out, { recursive: true });
const document = JSON.parse(readFileSync(join(root, "crates/core/openapi.json"), "utf8"));
writeFileSync(join(out, "openapi.json"), JSON.stringify(document));
// Readable from any origin (API explorers load it cross-origin); cached
// like the JWKS and the metadata (JWKS_MAX_AGE, crates/core/src/config.rs).
writeFileSync(
  join(out, "_headers"),
  ["/openapi.json", "  Access-Control-Allow-Origin: *", "  Cache-Control: public, max-age=300", ""].join("\n"),
);
