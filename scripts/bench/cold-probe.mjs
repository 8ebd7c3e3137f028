// Test-only (make bench, scripts/bench/cold.mjs): the built worker,
// unchanged, with clocks around what its first requests wait on, so the
// bench can say where a fresh isolate's first token goes. Each request's
// time inside the isolate is split into what it awaited from D1 (storage),
// from WebCrypto's importKey (key import), sign (signature) and verify
// (verification), and the
// rest: the worker's own work, which in a fresh isolate includes V8
// compiling each wasm function on its first call. `GET /__cold` answers
// the figures (`?reset`: and forgets them). workerd's clock in a request has
// millisecond resolution, so the bench averages over many requests or
// fresh isolates. Requests must come one at a time. Nothing here ships.
import "./cold-mark.js";
import Service from "../../build/index.js";

/** Module evaluation of the built worker: its wasm instantiated, its top level run. */
const evaluated = performance.now() - globalThis.__coldMark;
const requests = [];
let current = null;

function timed(part, f) {
  return async function (...args) {
    const at = current;
    const t = performance.now();
    try {
      return await f.apply(this, args);
    } finally {
      if (at) at[part] = (at[part] ?? 0) + performance.now() - t;
    }
  };
}

const subtle = crypto.subtle;
subtle.importKey = timed("keyImport", subtle.importKey.bind(subtle));
subtle.sign = timed("signature", subtle.sign.bind(subtle));
subtle.verify = timed("verification", subtle.verify.bind(subtle));

const statement = (inner) => ({
  inner,
  bind: (...values) => statement(inner.bind(...values)),
  first: timed("storage", (column) => inner.first(column)),
  all: timed("storage", () => inner.all()),
  raw: timed("storage", (options) => inner.raw(options)),
  run: timed("storage", () => inner.run()),
});

const session = (inner) => ({
  prepare: (sql) => statement(inner.prepare(sql)),
  batch: timed("storage", (statements) => inner.batch(statements.map((s) => s.inner))),
  getBookmark: () => inner.getBookmark(),
});

/** Named as workers-rs expects a D1 binding to be. */
class D1Database {
  constructor(inner) {
    this.inner = inner;
  }
  prepare(sql) {
    return statement(this.inner.prepare(sql));
  }
  batch(statements) {
    return timed("storage", (s) => this.inner.batch(s.map((x) => x.inner)))(statements);
  }
  withSession(constraint) {
    return session(this.inner.withSession(constraint));
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/__cold") {
      const answer = new Response(JSON.stringify({ evaluated, requests }));
      // `?reset`: and forget them, so the next answer has only what follows.
      if (url.search === "?reset") requests.length = 0;
      return answer;
    }
    current = { path };
    const t = performance.now();
    const response = await Service.prototype.fetch.call({ env: { ...env, DB: new D1Database(env.DB) }, ctx }, request);
    const body = await response.arrayBuffer();
    current.total = performance.now() - t;
    current.status = response.status;
    requests.push(current);
    current = null;
    return new Response(body, response);
  },
};
