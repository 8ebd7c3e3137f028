// An API at the edge written in JS that accepts only m2m-edge access
// tokens, the twin of examples/edge-api (Rust): `GET /orders` needs the
// scope `orders:read`, `POST /orders` `orders:write`, `GET /health` nothing;
// `GET /.well-known/oauth-protected-resource` is its RFC 9728 metadata,
// which every refusal's challenge points at (`resource_metadata`).
//
// It verifies nothing itself: one RPC call over the `AUTH` service binding
// (`[[services]]` in its wrangler.toml, to the token service) answers with
// the token's claims, or with the RFC 6750 refusal to send as it is —
// revocation included, with nothing to cache here. A token bound to its
// client's key (DPoP, RFC 9449) comes with the request's proof, method and
// URL, which the token service checks (a proof is taken once).
//
//   [[services]]
//   binding = "AUTH"
//   service = "m2m-edge"

const REALM = "orders";
const SCOPES = ["orders:read", "orders:write"];

/** RFC 9728 §3.1: the well-known path goes between the resource's host and its path. */
function metadataUrl(resource) {
  const url = new URL(resource);
  return `${url.origin}/.well-known/oauth-protected-resource${url.pathname.replace(/\/$/, "")}`;
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/health" && request.method === "GET") return new Response("ok");
    const metadata = metadataUrl(env.AUDIENCE);
    if (path === new URL(metadata).pathname && request.method === "GET") {
      return json(200, {
        resource: env.AUDIENCE,
        authorization_servers: [env.ISSUER],
        scopes_supported: SCOPES,
        bearer_methods_supported: ["header"],
        dpop_signing_alg_values_supported: ["ES256", "RS256"],
        dpop_bound_access_tokens_required: false,
      });
    }
    if (path !== "/orders") return json(404, { error: "not_found" });
    const needs = { GET: "orders:read", POST: "orders:write" }[request.method];
    if (!needs) return json(405, { error: "method_not_allowed" }, { allow: "GET, POST" });

    const answer = await env.AUTH.verify(request.headers.get("authorization") ?? "", {
      audience: env.AUDIENCE,
      scopes: [needs],
      realm: REALM,
      resourceMetadata: metadata,
      dpop: request.headers.get("dpop"),
      method: request.method,
      url: request.url,
    });
    if (!answer.valid) {
      return json(answer.status, { error: answer.error, error_description: answer.error_description }, answer.headers);
    }
    const { client_id, scope } = answer.claims;
    return request.method === "POST"
      ? json(201, { created: true, client_id })
      : json(200, { orders: [], client_id, scope });
  },
};

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
