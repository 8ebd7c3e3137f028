// crates/worker/src/glue.js on its own, in Node (its WebCrypto, Request and Response):
// the parts of the Worker glue written in JS, including the signing failure
// path that a healthy workerd never takes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { describe as describeRequest, forward, rateLimit, respond, rpcAnswer, signThenRespond, whenSettled, withBody, withBoundedBody } from "../../crates/worker/src/glue.js";

const NAMES = "authorization\ncontent-type\ncontent-length";
const ECDSA = { name: "ECDSA", hash: "SHA-256" };

test("describe: method, URL, then =value per present header and nothing per absent one", () => {
  // As workerd hands it over (Node's Request would drop content-length).
  const present = {
    method: "POST",
    url: "https://as.example/oauth2/token?x=1",
    headers: new Headers({ authorization: "Basic abc", "content-type": "", "content-length": "3" }),
  };
  assert.equal(describeRequest(present, NAMES), "POST\nhttps://as.example/oauth2/token?x=1\n=Basic abc\n=\n=3");
  const bare = new Request("https://as.example/.well-known/jwks.json");
  assert.equal(describeRequest(bare, NAMES), "GET\nhttps://as.example/.well-known/jwks.json\n\n\n");
});

test("withBoundedBody reads a body of unknown length up to the limit, and stops reading past it", async () => {
  const streamed = (chunks, pulled) =>
    new Request("https://as.example/", {
      method: "POST",
      duplex: "half",
      body: new ReadableStream({
        pull(controller) {
          pulled.count++;
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      }),
    });
  const small = { count: 0 };
  const bytes = await withBoundedBody(streamed(["grant_", "type=x"], small), null, (req, env, b) => b, 16);
  assert.equal(new TextDecoder().decode(bytes), "grant_type=x");
  const big = { count: 0 };
  const chunks = Array.from({ length: 1000 }, () => "0123456789");
  assert.equal(await withBoundedBody(streamed(chunks, big), null, (req, env, b) => b, 16), false);
  assert.ok(big.count < 10, `stopped after ${big.count} chunks of 1000`);
  const empty = await withBoundedBody(new Request("https://as.example/", { method: "POST" }), null, (req, env, b) => b, 16);
  assert.equal(empty.length, 0);
});

test("withBody hands the bytes, or undefined when the body cannot be read, to the callback", async () => {
  const seen = await withBody(new Request("https://as.example/", { method: "POST", body: "grant_type=x" }), "env", (req, env, bytes) => [env, new TextDecoder().decode(bytes)]);
  assert.deepEqual(seen, ["env", "grant_type=x"]);
  const used = new Request("https://as.example/", { method: "POST", body: "x" });
  await used.text();
  assert.equal(await withBody(used, null, (req, env, bytes) => bytes), undefined);
});

test("respond: status, headers in order, no body when empty", async () => {
  const r = respond(401, new TextEncoder().encode('{"error":"invalid_client"}'), "content-type\napplication/json\nwww-authenticate\nBasic realm=\"x\"\n");
  assert.equal(r.status, 401);
  assert.equal(r.headers.get("www-authenticate"), 'Basic realm="x"');
  assert.deepEqual(await r.json(), { error: "invalid_client" });
  const empty = respond(204, new Uint8Array(0), "");
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
});

test("signThenRespond writes a verifiable base64url ES256 signature into the slot", async () => {
  const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const input = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";
  const text = `{"access_token":"${input}.","token_type":"Bearer"}`;
  const body = new TextEncoder().encode(text);
  const start = '{"access_token":"'.length;
  const r = await signThenRespond(crypto.subtle, ECDSA, privateKey, 200, body, start, start + input.length, start + input.length + 1, "content-type\napplication/json\ncache-control\nno-store\n", () => assert.fail("not expected to fail"));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("cache-control"), "no-store");
  const json = await r.json();
  assert.equal(json.token_type, "Bearer");
  const [header, payload, signature] = json.access_token.split(".");
  assert.equal(`${header}.${payload}`, input);
  assert.match(signature, /^[A-Za-z0-9_-]{86}$/);
  const raw = Buffer.from(signature, "base64url");
  assert.equal(raw.length, 64);
  assert.ok(await crypto.subtle.verify(ECDSA, publicKey, raw, new TextEncoder().encode(input)));
});

test("signThenRespond answers with the failure callback when WebCrypto rejects", async () => {
  const { publicKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const body = new TextEncoder().encode('{"access_token":"a.b.","token_type":"Bearer"}');
  let reason;
  const r = await signThenRespond(crypto.subtle, ECDSA, publicKey, 200, body, 17, 20, 21, "content-type\napplication/json\n", (why) => {
    reason = why;
    return respond(500, new TextEncoder().encode('{"error":"server_error"}'), "content-type\napplication/json\n");
  });
  assert.ok(reason, "the callback saw why");
  assert.equal(r.status, 500);
  assert.deepEqual(await r.json(), { error: "server_error" });
});

test("rateLimit asks the binding with {key} and resolves to its success flag; a failing binding rejects", async () => {
  const asked = [];
  const binding = (outcome) => ({ limit: async (options) => (asked.push(options), outcome) });
  assert.equal(await rateLimit(binding({ success: true }), "203.0.113.1"), true);
  assert.equal(await rateLimit(binding({ success: false }), "203.0.113.1"), false);
  // Anything but an explicit success is not within the limit.
  assert.equal(await rateLimit(binding({}), "k"), false);
  assert.deepEqual(asked, [{ key: "203.0.113.1" }, { key: "203.0.113.1" }, { key: "k" }]);
  await assert.rejects(rateLimit({ limit: async () => { throw new Error("down"); } }, "k"));
});

test("withBody and withBoundedBody count on the limiter while they read, and hand its outcome over", async () => {
  const post = () => new Request("https://as.example/", { method: "POST", body: "grant_type=x" });
  const asked = [];
  const limiter = (outcome) => ({ limit: async (o) => (asked.push(o.key), outcome()) });
  const seen = (req, env, bytes, within) => [new TextDecoder().decode(bytes), within];
  assert.deepEqual(await withBody(post(), null, seen, limiter(() => ({ success: true })), "203.0.113.1"), ["grant_type=x", true]);
  assert.deepEqual(await withBody(post(), null, seen, limiter(() => ({ success: false })), "k"), ["grant_type=x", false]);
  // A failing binding: null, and the body is still read.
  assert.deepEqual(await withBoundedBody(post(), null, seen, 16, limiter(() => { throw new Error("down"); }), "k"), ["grant_type=x", null]);
  assert.deepEqual(asked, ["203.0.113.1", "k", "k"]);
  // No limiter: undefined, nothing asked.
  assert.deepEqual(await withBody(post(), null, seen, undefined, ""), ["grant_type=x", undefined]);
  assert.deepEqual(await withBoundedBody(post(), null, seen, 16, undefined, ""), ["grant_type=x", undefined]);
  assert.equal(asked.length, 3);
});

test("withBody and withBoundedBody hand the request's description back as given, on every path", async () => {
  const post = () => new Request("https://as.example/", { method: "POST", body: "grant_type=x" });
  const described = describeRequest(post(), "authorization");
  const back = (req, env, bytes, within, d) => d;
  const limiter = { limit: async () => ({ success: true }) };
  assert.equal(await withBody(post(), null, back, undefined, "", described), described);
  assert.equal(await withBody(post(), null, back, limiter, "k", described), described);
  assert.equal(await withBoundedBody(post(), null, back, 16, undefined, "", described), described);
  assert.equal(await withBoundedBody(post(), null, back, 16, limiter, "k", described), described);
  const used = post();
  await used.text();
  assert.equal(await withBody(used, null, back, undefined, "", described), described);
});

test("forward hands the request over as it came, answers with the other Worker's response, then runs `answered` unless it refused the request", async () => {
  const request = new Request("https://as.example/admin/clients", { method: "POST", body: "{}" });
  const seen = [];
  const service = { fetch: async (r) => (seen.push(r), new Response("made", { status: 201 })) };
  let answered = 0;
  const response = await forward(service, request, () => answered++, () => assert.fail("not failed"));
  assert.equal(seen[0], request, "the same Request object, body unread");
  assert.equal(response.status, 201);
  assert.equal(await response.text(), "made");
  assert.equal(answered, 1);
  // Without `answered` (a read), nothing runs after.
  assert.equal((await forward(service, request, undefined, () => assert.fail("not failed"))).status, 201);
  // A call that fails is `failed`'s to answer; `answered` never runs.
  const down = { fetch: async () => { throw new Error("no such service"); } };
  const failedWith = await forward(down, request, () => answered++, (why) => `failed: ${why.message}`);
  assert.equal(failedWith, "failed: no such service");
  assert.equal(answered, 1);
  // A write the other Worker refused (no credentials, a missing scope, a
  // conflict, a limit) changed nothing, and must not let anyone flush this
  // isolate's caches.
  for (const status of [400, 401, 403, 404, 405, 409, 412, 415, 429]) {
    const refusing = { fetch: async () => new Response("{}", { status }) };
    assert.equal((await forward(refusing, request, () => answered++, () => assert.fail("not failed"))).status, status);
  }
  assert.equal(answered, 1, "no refused write runs `answered`");
  // A success did change something; a server error may have (a client
  // deactivated, then ending its tokens failed).
  for (const status of [200, 204, 500, 503]) {
    const answering = { fetch: async () => new Response(status === 204 ? null : "{}", { status }) };
    await forward(answering, request, () => answered++, () => assert.fail("not failed"));
  }
  assert.equal(answered, 5);
});

test("rpcAnswer: the app's answer as the RPC returns it; malformed options a TypeError; no answer at all the 503 refusal", async () => {
  const answer = { valid: false, status: 401, error: "invalid_token", error_description: "revoked", headers: { "www-authenticate": 'Bearer realm="api"' } };
  assert.deepEqual(await rpcAnswer(Response.json(answer)), answer);
  assert.deepEqual(await rpcAnswer(Promise.resolve(Response.json({ valid: true, claims: { sub: "x" } }))), { valid: true, claims: { sub: "x" } });
  await assert.rejects(
    rpcAnswer(Response.json({ error: "invalid_options", error_description: "options.audience: required" }, { status: 400 })),
    (e) => e instanceof TypeError && e.message === "options.audience: required",
  );
  const down = await rpcAnswer(Response.json({ error: "server_error" }, { status: 500 }));
  assert.equal(down.valid, false);
  assert.equal(down.status, 503);
  assert.equal(down.headers["retry-after"], "30");
});

test("whenSettled continues the task with the value or the reason, and its answer is the request's", async () => {
  const calls = [];
  const next = (task, value, fulfilled) => {
    calls.push([task, value, fulfilled]);
    return fulfilled ? `reply ${task}` : Promise.resolve(`refusal ${task}`);
  };
  assert.equal(await whenSettled(Promise.resolve(true), 3, next), "reply 3");
  const reason = new Error("rejected by WebCrypto");
  // A promise of the reply (a signature still to make) is taken on as the reply.
  assert.equal(await whenSettled(Promise.reject(reason), 7, next), "refusal 7");
  assert.deepEqual(calls, [[3, true, true], [7, reason, false]]);
});
