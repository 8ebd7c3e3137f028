// Test-only (make bench): what one D1 write costs a plain JS worker here.
// POST writes one row the way private_key_jwt records an assertion's jti
// (the same statement, a fresh key each time); GET answers without D1.
// The bench reads server CPU per request of each, sequentially.
const INSERT = "INSERT INTO used_assertions (key, expires_at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";

export default {
  async fetch(request, env) {
    if (request.method === "GET") return new Response("{}", { headers: { "content-type": "application/json" } });
    const key = new URLSearchParams(await request.text()).get("key") ?? crypto.randomUUID();
    await env.DB.prepare(INSERT).bind(key, Math.floor(Date.now() / 1000) + 60).run();
    return new Response("{}", { headers: { "content-type": "application/json" } });
  },
};
