// Ring 2, paired with crates/core/tests/limits.rs: the rate limits through
// the Rate Limiting bindings as workerd runs them, on the configured backend.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { clientFor, shippedRateLimits, startWorker } from "./harness.mjs";

const STORAGE = process.env.M2M_STORAGE ?? "d1";
const FORM = "grant_type=client_credentials";

function assertLimited(r) {
  assert.equal(r.status, 429, JSON.stringify(r.json));
  assert.equal(r.json.error, "too_many_requests");
  assert.equal(typeof r.json.error_description, "string");
  assert.equal(r.headers.get("retry-after"), "60");
  assert.equal(r.headers.get("cache-control"), "no-store");
}

describe(`rate limits (${STORAGE})`, () => {
  let w;
  let api;
  before(async () => {
    w = await startWorker({
      bindings: { STORAGE },
      ratelimits: {
        TOKEN_RATE_LIMIT: { simple: { limit: 5, period: 60 } },
        ADMIN_RATE_LIMIT: { simple: { limit: 20, period: 60 } },
        AUTH_FAILURE_RATE_LIMIT: { simple: { limit: 2, period: 60 } },
      },
    });
    api = clientFor(w);
  });
  after(() => w?.close());

  const from = (address, id, secret) =>
    api.token({ basic: [id, secret], form: FORM, headers: { "cf-connecting-ip": address } });

  test("token requests per address: the sixth in a window gets 429 with Retry-After; other addresses are counted apart", async () => {
    const c = await api.createClient();
    for (let i = 0; i < 5; i++) assert.equal((await from("203.0.113.1", c.client_id, c.client_secret)).status, 200);
    assertLimited(await from("203.0.113.1", c.client_id, c.client_secret));
    assert.equal((await from("203.0.113.2", c.client_id, c.client_secret)).status, 200);
  });

  test("failed authentications per client and address: a lockout, even for the right secret, only from that address", async () => {
    const c = await api.createClient();
    for (let i = 0; i < 2; i++) assert.equal((await from("198.51.100.1", c.client_id, "wrong")).status, 401);
    assertLimited(await from("198.51.100.1", c.client_id, "wrong"));
    assertLimited(await from("198.51.100.1", c.client_id, c.client_secret));
    assert.equal((await from("198.51.100.2", c.client_id, c.client_secret)).status, 200);
  });

  test("the addresses of one IPv6 /64 are one source: rotating through them neither escapes a lockout nor the token limit", async () => {
    const c = await api.createClient();
    for (let i = 1; i <= 2; i++) assert.equal((await from(`2001:db8:77:1::${i}`, c.client_id, "wrong")).status, 401);
    assertLimited(await from("2001:db8:77:1:ffff::3", c.client_id, "wrong"));
    assertLimited(await from("2001:db8:77:1::4", c.client_id, c.client_secret));
    assert.equal((await from("2001:db8:77:2::1", c.client_id, c.client_secret)).status, 200);
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await from(`2001:db8:77:3::${100 + i}`, c.client_id, c.client_secret)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  });

  test("other zones' Workers, all from Cloudflare's one Workers address, are counted per zone (CF-Worker)", async () => {
    const c = await api.createClient();
    const fromWorker = (zone, address = "2a06:98c0:3600::103") =>
      api.token({ basic: [c.client_id, c.client_secret], form: FORM, headers: { "cf-connecting-ip": address, "cf-worker": zone } });
    for (let i = 0; i < 5; i++) assert.equal((await fromWorker("a.example")).status, 200);
    assertLimited(await fromWorker("a.example"));
    assert.equal((await fromWorker("b.example")).status, 200);
    // Naming zones from one's own address buys no new count.
    for (let i = 0; i < 5; i++) assert.equal((await fromWorker(`zone-${i}.example`, "192.0.2.77")).status, 200);
    assertLimited(await fromWorker("zone-9.example", "192.0.2.77"));
  });

  test("admin requests per address, counted before the key is checked", async () => {
    const call = (key) =>
      fetch(`${w.base}/admin/clients`, { headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": "192.0.2.9" } });
    for (let i = 0; i < 20; i++) assert.equal((await call(`guess-${i}`)).status, 401);
    const r = await call(w.secrets.ADMIN_API_KEY);
    assertLimited({ status: r.status, headers: r.headers, json: await r.json() });
    // Another address still administers.
    const other = await fetch(`${w.base}/admin/clients`, {
      headers: { authorization: `Bearer ${w.secrets.ADMIN_API_KEY}`, "cf-connecting-ip": "192.0.2.10" },
    });
    assert.equal(other.status, 200);
  });
});

describe(`rate limits without a source address (${STORAGE})`, () => {
  // A direct socket: no Miniflare entry worker, so no CF-Connecting-IP, as
  // for a request over a service binding.
  let w;
  let api;
  before(async () => {
    w = await startWorker({ bindings: { STORAGE }, direct: true, ratelimits: { AUTH_FAILURE_RATE_LIMIT: { simple: { limit: 2, period: 60 } } } });
    api = clientFor(w);
  });
  after(() => w?.close());

  test("failures are not counted under the client id alone: whoever knows a client id cannot lock it out", async () => {
    const c = await api.createClient();
    const direct = (secret) =>
      fetch(`${w.directBase}/oauth2/token`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${c.client_id}:${secret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
        body: FORM,
      });
    for (let i = 0; i < 5; i++) assert.equal((await direct("wrong")).status, 401);
    assert.equal((await direct(c.client_secret)).status, 200);
  });
});

describe(`rate limits are on by default (${STORAGE})`, () => {
  let w;
  let api;
  before(async () => {
    w = await startWorker({ bindings: { STORAGE } });
    api = clientFor(w);
  });
  after(() => w?.close());

  test("the worker as shipped (wrangler.toml's limits) locks out a flood of wrong secrets", async () => {
    const { limit } = shippedRateLimits().AUTH_FAILURE_RATE_LIMIT.simple;
    const c = await api.createClient();
    const wrong = () => api.token({ basic: [c.client_id, "wrong"], form: FORM, headers: { "cf-connecting-ip": "203.0.113.50" } });
    for (let i = 0; i < limit; i++) assert.equal((await wrong()).status, 401);
    assertLimited(await wrong());
  });
});
