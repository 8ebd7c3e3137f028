// An API at the edge written in JS that accepts only m2m-edge access
// tokens, the twin of examples/edge-api (Rust): `GET /orders` needs the
// scope `orders:read`, `POST /orders` `orders:write`, `GET /health` nothing.
//
// It verifies nothing itself: one RPC call over the `AUTH` service binding
// (`[[services]]` in its wrangler.toml, to the token service) answers with
// the token's claims, or with the RFC 6750 refusal to send as it is —
// revocation included, with nothing to cache here.
//
//   [[services]]
//   binding = "AUTH"
//   service = "m2m-edge"

const REALM = "orders";

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/health" && request.method === "GET") return new Response("ok");
    if (path !== "/orders") return json(404, { error: "not_found" });
    const needs = { GET: "orders:read", POST: "orders:write" }[request.method];
    if (!needs) return json(405, { error: "method_not_allowed" }, { allow: "GET, POST" });

    const answer = await env.AUTH.verify(request.headers.get("authorization") ?? "", {
      audience: env.AUDIENCE,
      scopes: [needs],
      realm: REALM,
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
