// A small local OIDC issuer for the federation tests: discovery and a JWK
// set over HTTP on 127.0.0.1, minting tokens shaped like GitHub Actions'
// and Kubernetes' projected service-account tokens (RS256, as both sign).
import { createServer } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";

/**
 * Start an issuer at http://127.0.0.1:<port><path>, its metadata where
 * OpenID Connect Discovery 1.0 §4 puts it (`metadataAt: "appended"`, the
 * issuer + /.well-known/openid-configuration) or where RFC 8414 §3 does
 * (`"inserted"`: /.well-known/oauth-authorization-server + the path).
 * Returns `{issuer, mint(claims, {audience, kid, expiresIn}), rotate(),
 * close()}`.
 */
export async function startIssuer(path = "", { metadataAt = "appended" } = {}) {
  let keys = [await newKey("key-1")];
  let requests = 0;
  const hits = {};
  const server = createServer(async (req, res) => {
    requests++;
    hits[req.url] = (hits[req.url] ?? 0) + 1;
    const send = (status, body) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "max-age=300" });
      res.end(JSON.stringify(body));
    };
    const metadataPath = metadataAt === "inserted" ? `/.well-known/oauth-authorization-server${path}` : `${path}/.well-known/openid-configuration`;
    if (req.url === metadataPath) {
      return send(200, { issuer: state.issuer, jwks_uri: `${state.issuer}/jwks`, id_token_signing_alg_values_supported: ["RS256"] });
    }
    if (req.url === `${path}/jwks`) return send(200, { keys: keys.map((k) => k.jwk) });
    // Misbehaving key sets, for the bounds on fetching them: one that never
    // answers, one that moves to `state.movedTo`, one of 10 MB.
    if (req.url === `${path}/jwks-hang`) return;
    if (req.url === `${path}/jwks-moved`) {
      res.writeHead(302, { location: state.movedTo });
      return res.end();
    }
    if (req.url === `${path}/jwks-huge`) return send(200, { keys: keys.map((k) => k.jwk), padding: "x".repeat(10 * 1024 * 1024) });
    send(404, { error: "not_found" });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const state = {
    issuer: `http://127.0.0.1:${server.address().port}${path}`,
    get requests() {
      return requests;
    },
    /** How many requests each URL path got. */
    hits,
    /** Where `<path>/jwks-moved` redirects to. */
    movedTo: undefined,
    /** The JWK set it publishes. */
    jwks: () => ({ keys: keys.map((k) => k.jwk) }),
    /** A token from this issuer with `claims` (sub, repository, …). */
    mint(claims, { audience, kid = keys[keys.length - 1].kid, expiresIn = "5m", jti = crypto.randomUUID() } = {}) {
      const key = keys.find((k) => k.kid === kid);
      return new SignJWT({ jti, ...claims })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid })
        .setIssuer(state.issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setNotBefore("0s")
        .setExpirationTime(expiresIn)
        .sign(key.privateKey);
    },
    /** Publish a new key and sign with it from now on (the old one stays published). */
    async rotate() {
      keys = [...keys, await newKey(`key-${keys.length + 1}`)];
    },
    // workerd keeps connections alive: drop them, or close would wait.
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
  return state;
}

async function newKey(kid) {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** The claims GitHub Actions puts in a workflow's ID token. */
export function githubClaims({ repository = "acme/deploy", ref = "refs/heads/main", environment = "production" } = {}) {
  return {
    sub: `repo:${repository}:environment:${environment}`,
    repository,
    repository_owner: repository.split("/")[0],
    ref,
    environment,
    workflow: "release",
    job_workflow_ref: `${repository}/.github/workflows/release.yml@${ref}`,
    runner_environment: "github-hosted",
  };
}

/** The claims of a Kubernetes projected service-account token. */
export function kubernetesClaims({ namespace = "payments", serviceAccount = "api" } = {}) {
  return {
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    "kubernetes.io": { namespace, serviceaccount: { name: serviceAccount, uid: crypto.randomUUID() }, pod: { name: `${serviceAccount}-0`, uid: crypto.randomUUID() } },
  };
}

/** A server at another origin that answers every GET with `body` (JSON), counting them. */
export async function startStatic(body) {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/jwks`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
