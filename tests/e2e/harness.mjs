// Start the built worker (build/index.js + wasm) in workerd through
// Miniflare, with a real local D1 that has the migrations applied.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { freshSecrets } from "../../scripts/dev-vars.mjs";

const root = new URL("../../", import.meta.url).pathname;

/** SQL statements of every migration, in order. */
export function migrationStatements() {
  const dir = join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .map((line) => line.replace(/--.*$/, ""))
        .join("\n")
        .split(";")
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

/**
 * A running worker. `bindings` override or add vars/secrets; a binding set to
 * `undefined` is left out entirely.
 */
export async function startWorker({ bindings = {}, migrate = true } = {}) {
  const secrets = freshSecrets();
  const all = { STORAGE: "d1", DEFAULT_TOKEN_TTL: "3600", ...secrets, ...bindings };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(root, "build/index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-04-20",
    d1Databases: ["DB"],
    kvNamespaces: ["KV"],
    bindings: all,
    inspectorPort: 0,
  });
  const url = await mf.ready;
  if (migrate) {
    const db = await mf.getD1Database("DB");
    await db.batch(migrationStatements().map((s) => db.prepare(s)));
  }
  const base = url.href.replace(/\/$/, "");
  return { mf, base, secrets: all, close: () => mf.dispose() };
}
