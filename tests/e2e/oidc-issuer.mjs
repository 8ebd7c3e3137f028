// Issuers for the federation tests, on 127.0.0.1: a small local OIDC
// issuer (discovery and a JWK set over HTTP, minting tokens shaped like
// GitHub Actions' and Kubernetes' projected service-account tokens, RS256
// as both sign), and node-oidc-provider as a real RFC 9068 issuer of
// client-credentials access tokens.
import { createServer } from "node:http";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

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
    /**
     * A token whose payload is `payload` exactly as given (JSON text, so
     * that numbers beyond JavaScript's reach, like i64::MIN, survive).
     */
    async mintRaw(payload, { kid = keys[keys.length - 1].kid, typ = "JWT" } = {}) {
      const key = keys.find((k) => k.kid === kid);
      const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
      const input = `${b64(JSON.stringify({ alg: "RS256", typ, kid }))}.${b64(payload)}`;
      const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, new TextEncoder().encode(input));
      return `${input}.${b64(new Uint8Array(signature))}`;
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

/**
 * node-oidc-provider (npm `oidc-provider`) as a real issuer at
 * http://127.0.0.1:<port>: one client_credentials client, and a resource
 * server whose access tokens are JWTs (RFC 9068: `typ` at+jwt, RS256) for
 * `audience`, as Duende and Auth0's RFC 9068 profile issue them. Returns
 * `{issuer, clientId, accessToken(), close()}`.
 */
export async function startOidcProvider({ audience }) {
  const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: "op-1", alg: "RS256", use: "sig" };
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const clientId = "ci-runner";
  const clientSecret = crypto.randomUUID();
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    clients: [{ client_id: clientId, client_secret: clientSecret, grant_types: ["client_credentials"], redirect_uris: [], response_types: [] }],
    ttl: { ClientCredentials: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => "https://m2m-edge.example",
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: "deploy", audience, accessTokenFormat: "jwt", accessTokenTTL: 300, jwt: { sign: { alg: "RS256" } } }),
      },
    },
  });
  server.on("request", provider.callback());
  return {
    issuer,
    clientId,
    /** A client-credentials access token, asked of the provider as any client would. */
    async accessToken() {
      const r = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "grant_type=client_credentials&scope=deploy",
      });
      const body = await r.json();
      if (r.status !== 200) throw new Error(`oidc-provider token: ${r.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
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
