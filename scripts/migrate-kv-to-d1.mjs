// Copy a deployment's data from Workers KV (the `STORAGE = "kv"` layout of
// earlier versions, docs/storage.md "Migrating from Workers KV") into D1,
// the one store. One command, safe to run again:
//
//   node scripts/migrate-kv-to-d1.mjs --namespace-id <KV id> --remote
//   node scripts/migrate-kv-to-d1.mjs --namespace-id <KV id> --local [--persist-to DIR]
//
// It reads every key with wrangler (`kv key list`, `kv bulk get`) and
// writes one SQL file that `wrangler d1 execute DB` runs as a batch:
// projects, clients, resources, the managed key set, the trusted issuers
// and the audit trail. It only ever adds what D1 does not hold: a record
// D1 has — by id, or the key set and issuer set once they exist — is left
// as it is, whatever KV says, since D1's decisions (a deactivation, a
// rotation, a client deleted and created again) are the ones that count
// once this version serves; KV's version numbers say nothing about D1's.
// A client whose project neither KV nor D1 holds is skipped (KV had no
// foreign key). Failure counts (`audit-auth-failures:`,
// `federation-failures:`) are short-lived tallies and are not copied; the
// resource index keys are rebuilt by D1's own index.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../", import.meta.url).pathname;
const wrangler = join(root, "node_modules/.bin/wrangler");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" };

/** A SQL literal: NULL, an integer, or a quoted string. */
function literal(v) {
  if (v === undefined || v === null) return "NULL";
  if (typeof v === "number" && Number.isInteger(v)) return String(v);
  if (typeof v === "boolean") return v ? "1" : "0";
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return `'${text.replaceAll("'", "''")}'`;
}

/** An insert of `row` into `table` that leaves whatever D1 already holds. */
function insert(table, columns, row) {
  const values = columns.map((c) => literal(row[c])).join(", ");
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${values}) ON CONFLICT DO NOTHING;`;
}

const CLIENT_COLUMNS = ["id", "name", "description", "grants", "custom_claims", "token_ttl", "status", "secret_hash",
  "secret_last_four", "next_secret_hash", "next_secret_last_four", "created_at", "updated_at", "version", "project_id",
  "jwks", "federated_credentials", "incarnation"];
const PROJECT_COLUMNS = ["id", "name", "description", "created_at", "updated_at", "version", "allowed_grants"];
const RESOURCE_COLUMNS = ["id", "identifier", "name", "scopes", "token_ttl", "created_at", "updated_at", "version"];
const AUDIT_COLUMNS = ["id", "at", "actor", "project_id", "action", "target", "changed_fields"];

/**
 * The SQL that copies `entries` ({key: JSON text} as KV held them) into
 * D1, and how many records of each kind it copies. Pure: tested on its own.
 */
export function migrationSql(entries, now = Math.floor(Date.now() / 1000)) {
  const parsed = Object.entries(entries)
    .filter(([, text]) => typeof text === "string")
    .map(([key, text]) => {
      try {
        return [key, JSON.parse(text)];
      } catch (e) {
        throw new Error(`KV key ${key} does not hold JSON (${e.message}); nothing was copied`);
      }
    });
  const of = (prefix) => parsed.filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  const counts = {};
  const sql = [];
  const add = (kind, statements) => {
    counts[kind] = statements.length;
    sql.push(...statements);
  };
  // Projects before the clients that name them (clients.project_id is a foreign key).
  add("projects", of("project:").map((p) =>
    insert("projects", PROJECT_COLUMNS, { version: 1, ...p, allowed_grants: JSON.stringify(p.allowed_grants ?? []) })));
  // A client of a project that exists nowhere is skipped, not a failed batch.
  add("clients", of("client:").map((c) => {
    const row = { version: 1, custom_claims: "{}", ...c };
    return `INSERT INTO clients (${CLIENT_COLUMNS.join(", ")}) SELECT ${CLIENT_COLUMNS.map((k) => literal(row[k])).join(", ")} ` +
      `WHERE ${literal(row.project_id)} IS NULL OR EXISTS (SELECT 1 FROM projects WHERE id = ${literal(row.project_id)}) ON CONFLICT DO NOTHING;`;
  }));
  // An identifier D1 already holds under another id stays D1's (the same conflict clause).
  add("resources", of("resource:").map((r) => insert("resources", RESOURCE_COLUMNS, { version: 1, ...r })));
  add("audit_events", of("audit:").map((e) =>
    `INSERT INTO audit_events (${AUDIT_COLUMNS.join(", ")}) VALUES (${AUDIT_COLUMNS.map((c) =>
      literal(c === "changed_fields" ? JSON.stringify(e[c] ?? []) : e[c])).join(", ")}) ON CONFLICT DO NOTHING;`));
  const set = (key, table, column) => {
    const found = parsed.find(([k]) => k === key)?.[1];
    if (!found) return [];
    const extra = table === "key_set" ? ", updated_at" : "";
    const extraValue = table === "key_set" ? `, ${now}` : "";
    return [`INSERT INTO ${table} (id, version, ${column}${extra}) VALUES (1, ${literal(found.version ?? 1)}, ` +
      `${literal(JSON.stringify(found[column] ?? []))}${extraValue}) ON CONFLICT DO NOTHING;`];
  };
  add("signing_keys", set("signing-keys", "key_set", "keys"));
  add("trusted_issuers", set("trusted-issuers", "trusted_issuers", "issuers"));
  return { sql: sql.join("\n") + "\n", counts };
}

/** The JSON value wrangler printed before its "Success!" line. */
function printed(out, open, close) {
  return JSON.parse(out.slice(out.indexOf(open), out.lastIndexOf(close) + 1));
}

const COPIED = ["client:", "project:", "resource:", "audit:", "signing-keys", "trusted-issuers"];

async function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const namespace = arg("--namespace-id");
  const where = argv.includes("--remote") ? ["--remote"] : argv.includes("--local") ? ["--local"] : null;
  if (!namespace || !where) {
    console.error("usage: node scripts/migrate-kv-to-d1.mjs --namespace-id <KV namespace id> (--remote | --local [--persist-to DIR]) [--database DB]");
    process.exit(2);
  }
  const persist = arg("--persist-to") ? ["--persist-to", arg("--persist-to")] : [];
  const database = arg("--database") ?? "DB";
  const run = (args) => execFileSync(wrangler, args, { cwd: root, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const kv = ["--namespace-id", namespace, ...where, ...persist];
  const keys = printed(run(["kv", "key", "list", ...kv]), "[", "]").map((k) => k.name)
    .filter((k) => COPIED.some((p) => k === p || (p.endsWith(":") && k.startsWith(p))));
  const dir = mkdtempSync(join(tmpdir(), "m2m-migrate-"));
  const entries = {};
  for (let i = 0; i < keys.length; i += 100) {
    const names = join(dir, `names-${i}.json`);
    writeFileSync(names, JSON.stringify(keys.slice(i, i + 100)));
    for (const [key, { value }] of Object.entries(printed(run(["kv", "bulk", "get", names, ...kv]), "{", "}"))) entries[key] = value;
  }
  const { sql, counts } = migrationSql(entries);
  const file = join(dir, "copy.sql");
  writeFileSync(file, sql);
  if (keys.length > 0) run(["d1", "execute", database, "--file", file, "--yes", ...where, ...persist]);
  console.log(`copied from KV into D1 (${where[0].slice(2)}): ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ")}`);
  console.log("records D1 already held were left as they were (D1 decides once this version serves)");
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
