// Ring 2, paired with crates/core/tests/openapi.rs: the OpenAPI document
// is a static asset (wrangler.toml [assets], build/assets written by
// scripts/openapi-asset.mjs), served by the platform's asset layer in
// front of the worker: the repository's document, minified, readable from
// any origin; every other path still reaches the worker.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { useWorker } from "./harness.mjs";

const ctx = useWorker({ assets: true });
const repository = new URL("../../crates/core/openapi.json", import.meta.url);

describe(`the OpenAPI document (${ctx.storage})`, () => {
  test("served as the repository's document, minified, with its headers; discovery points at it", async () => {
    const r = await fetch(`${ctx.w.base}/openapi.json`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /^application\/json/);
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    assert.equal(r.headers.get("cache-control"), "public, max-age=300");
    const text = await r.text();
    assert.deepEqual(JSON.parse(text), JSON.parse(readFileSync(repository, "utf8")));
    assert.ok(text.length * 10 < statSync(repository).size * 7, "minified");
    const metadata = await (await fetch(`${ctx.w.base}/.well-known/oauth-authorization-server`)).json();
    assert.equal(metadata.service_documentation, `${metadata.issuer}/openapi.json`);
  });

  test("the worker still answers everything else behind the asset layer", async () => {
    const jwks = await fetch(`${ctx.w.base}/.well-known/jwks.json`);
    assert.equal(jwks.status, 200);
    const token = await ctx.api.token({ form: "grant_type=client_credentials" });
    assert.equal(token.status, 401);
    assert.equal(token.json.error, "invalid_client");
  });
});
