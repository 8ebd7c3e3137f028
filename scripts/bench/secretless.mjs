// What `make bench` (run.mjs) and the side-by-side A/B (ab.mjs) both start:
// one D1 worker, with the rate limiters on as in production, a secret
// client and a federated one, and a token request of each.
import { clientFor, startWorker, workerdPids } from "../../tests/e2e/harness.mjs";
import { githubClaims, startIssuer } from "../../tests/e2e/oidc-issuer.mjs";

// The rate limiters run and count every token request, as in production
// (where Cloudflare always sets CF-Connecting-IP), with limits high enough
// never to trip.
const never = { simple: { limit: 1e9, period: 60 } };
export const NEVER_TRIPPED = { TOKEN_RATE_LIMIT: never, ADMIN_RATE_LIMIT: never, AUTH_FAILURE_RATE_LIMIT: never };
export const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
export const TOKEN_FORM = { "content-type": "application/x-www-form-urlencoded" };
/** The client's address, which the per-address limit counts. */
export const ADDRESS = { "cf-connecting-ip": "203.0.113.1" };

/**
 * One D1 worker (the built one, or `script`, a test-only module around it
 * or another build) with a secret client and a federated client: a
 * GitHub-shaped RS256 platform token from an issuer set to reusable
 * tokens, so one token can be sent over and over, keys warm. `own` are its
 * workerd processes; `close` stops the worker and the issuer.
 */
export async function secretAndFederated(script) {
  const before = new Set(workerdPids());
  const w = await startWorker({ bindings: { STORAGE: "d1" }, direct: true, ratelimits: NEVER_TRIPPED, script });
  const issuer = await startIssuer();
  const own = workerdPids().filter((pid) => !before.has(pid));
  const api = clientFor(w);
  await api.admin("POST", "/admin/federation/issuers", { issuer: issuer.issuer, audiences: ["m2m-edge"], single_use: false });
  const secret = await api.createClient();
  const federated = await api.createClient({ federated_credentials: [{ name: "release", issuer: issuer.issuer, claims: { repository: "acme/deploy" } }] });
  const platform = await issuer.mint(githubClaims(), { audience: "m2m-edge", expiresIn: "1h" });
  const url = `${w.directBase}/oauth2/token`;
  const secretSpec = { url, method: "POST", headers: { ...TOKEN_FORM, ...ADDRESS, authorization: basic(secret.client_id, secret.client_secret) }, body: "grant_type=client_credentials" };
  const exchange = new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    subject_token: platform,
    client_id: federated.client_id,
  });
  const federatedSpec = { url, method: "POST", headers: { ...TOKEN_FORM, ...ADDRESS }, body: exchange.toString() };
  // The issuer is served from this process, whose event loop oha blocks:
  // the worker fetches its keys now, once, and holds them (max-age 300 s).
  const warm = await fetch(url, { method: "POST", headers: federatedSpec.headers, body: federatedSpec.body });
  if (warm.status !== 200) throw new Error(`token exchange: ${warm.status} ${await warm.text()}`);
  const close = async () => {
    await issuer.close();
    await w.close();
  };
  return { w, own, api, url, secretSpec, federatedSpec, close };
}
