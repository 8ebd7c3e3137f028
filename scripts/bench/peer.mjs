// The peer for `make bench`: node-oidc-provider configured for the same job
// as m2m-edge — client credentials, one confidential client authenticating
// with client_secret_basic, and a resource server so the access token is an
// ES256-signed JWT with aud, scope, exp. Loopback only.
// Usage: node scripts/bench/peer.mjs <port> <client_id> <client_secret>
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const [port, clientId, clientSecret] = process.argv.slice(2);
const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "ES256" };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "read write",
    },
  ],
  jwks: { keys: [jwk] },
  // With only an EC key, client validation needs this (docs/toolchain.md).
  clientDefaults: { id_token_signed_response_alg: "ES256" },
  scopes: ["read", "write"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => "https://api.example.com",
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "read write",
        audience: "https://api.example.com",
        accessTokenFormat: "jwt",
        accessTokenTTL: 3600,
        jwt: { sign: { alg: "ES256" } },
      }),
    },
  },
});
provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
