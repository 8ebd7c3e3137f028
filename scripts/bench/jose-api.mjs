// `make bench`: the same edge API as examples/edge-api (GET /orders needs
// orders:read; GET /health is the trivial route), as a plain JS worker
// verifying with jose — the reference the Rust verifier is measured
// against. Keys fetched once per isolate over the AUTH service binding, as
// the Rust API holds them between requests. Bundled with esbuild by run.mjs.
import { createLocalJWKSet, jwtVerify } from "jose";

let keys;

function jwks(env) {
  keys ??= env.AUTH.fetch(`${env.ISSUER}/.well-known/jwks.json`)
    .then((r) => r.json())
    .then((set) => createLocalJWKSet(set));
  return keys;
}

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return new Response("ok");
    if (pathname !== "/orders") return json(404, { error: "not_found" });
    const authorization = request.headers.get("authorization") ?? "";
    const token = /^bearer /i.test(authorization) ? authorization.slice(7) : "";
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await jwks(env), {
        issuer: env.ISSUER,
        audience: env.AUDIENCE,
        typ: "at+jwt",
        algorithms: ["ES256"],
        clockTolerance: 30,
        requiredClaims: ["exp", "iat", "client_id", "sub", "jti"],
      }));
    } catch {
      return json(401, { error: "invalid_token" }, { "www-authenticate": 'Bearer realm="orders", error="invalid_token"' });
    }
    const scopes = String(payload.scope ?? "").split(" ").filter(Boolean);
    if (!scopes.includes("orders:read")) return json(403, { error: "insufficient_scope" });
    return json(200, { client_id: payload.client_id, scopes, orders: [{ id: "ord_1", total: 42 }] });
  },
};
