// The few steps of a request that are cheaper in JS than across the wasm
// boundary (docs/architecture.md, "The glue contract", says why each
// exists; BENCHMARKS.md has the figures). No protocol decisions here: Rust
// decides every byte of every response except the signature WebCrypto makes.

import { env as workerEnv } from "cloudflare:workers";

/**
 * The Worker's bindings, for a call that comes without a request: a
 * service binding's RPC method (`verify`).
 */
export function bindings() {
  return workerEnv;
}

/**
 * What a service binding's call answers (`verify`): the app's JSON body;
 * for a call the app refused as malformed (400), a `TypeError` with its
 * description; and when the app could not answer at all (500: its
 * configuration, logged), the 503 refusal an API passes on. `response` may
 * still be a promise.
 */
export function rpcAnswer(response) {
  return Promise.resolve(response).then((r) =>
    r.json().then((body) => {
      if (r.status === 400) throw new TypeError(body.error_description);
      if (r.status !== 200) {
        return {
          valid: false, status: 503, error: "temporarily_unavailable",
          error_description: "the token service could not answer", headers: { "retry-after": "30" },
        };
      }
      return body;
    }),
  );
}

/**
 * The request line and the named headers ("a\nb\n…") in one string:
 * "METHOD\nURL\n" then, per name, "=value" if the header is present or ""
 * if not, newline-separated. Neither a URL nor a header value can hold a
 * newline.
 */
export function describe(request, names) {
  const headers = request.headers;
  let out = `${request.method}\n${request.url}`;
  for (const name of names.split("\n")) {
    const value = headers.get(name);
    out += value === null ? "\n" : `\n=${value}`;
  }
  return out;
}

/**
 * Read the request body, then continue in Rust: `next(request, env, bytes,
 * within, described)`, with `bytes` undefined when the body could not be
 * read, and `described` handed back as given (what `describe` said of the
 * request, so Rust need not ask the runtime for its headers twice). A
 * long-lived Rust callback, so no per-request closure is built on either
 * side. Only for a body whose Content-Length Rust has checked: the runtime
 * delivers no more than that many bytes.
 *
 * With a Rate Limiting binding `limiter`, one event for `key` is counted
 * while the body is read, and `within` is its outcome: `true`, `false`
 * (over the limit), or `null` if the binding failed; `undefined` without
 * a limiter. Asked here, the count costs no extra trip through Rust's
 * async machinery on the token path (Rust decides what it means).
 */
export function withBody(request, env, next, limiter, key, described) {
  if (limiter === undefined) {
    return request.arrayBuffer().then(
      (buffer) => next(request, env, new Uint8Array(buffer), undefined, described),
      () => next(request, env, undefined, undefined, described),
    );
  }
  const bytes = request.arrayBuffer().then(
    (buffer) => new Uint8Array(buffer),
    () => undefined,
  );
  return continueWith(request, env, next, bytes, limiter, key, described);
}

/**
 * The same for a body of unknown length (chunked): read at most `limit`
 * bytes, then stop and cancel the stream, so a client cannot make the
 * isolate buffer more than that. `bytes` is `false` when the body is
 * longer than `limit`.
 */
export function withBoundedBody(request, env, next, limit, limiter, key, described) {
  const bytes =
    request.body === null
      ? Promise.resolve(new Uint8Array(0))
      : readAtMost(request.body.getReader(), limit).then(
          (read) => read,
          () => undefined,
        );
  return continueWith(request, env, next, bytes, limiter, key, described);
}

function continueWith(request, env, next, bytes, limiter, key, described) {
  if (limiter === undefined) return bytes.then((read) => next(request, env, read, undefined, described));
  // Both started now; one `then` each (cheaper than Promise.all here).
  const within = limiter.limit({ key }).then(
    (outcome) => outcome.success === true,
    () => null,
  );
  return bytes.then((read) => within.then((ok) => next(request, env, read, ok, described)));
}

async function readAtMost(reader, limit) {
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      return false;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * Continue a waiting request in Rust once `promise` settles:
 * `next(task, value, fulfilled)` answers with the request's reply or a
 * promise of it, which the returned promise takes on. `next` is a
 * long-lived Rust callback and `task` a number, so nothing per await is
 * built on the Rust side (crates/worker/src/task.rs).
 */
export function whenSettled(promise, task, next) {
  return promise.then(
    (value) => next(task, value, true),
    (reason) => next(task, reason, false),
  );
}

/**
 * One more event for `key` on a Rate Limiting binding: a promise of `true`
 * when it is within the limit, `false` when over it.
 */
export function rateLimit(limiter, key) {
  return limiter.limit({ key }).then((outcome) => outcome.success === true);
}

/**
 * One `Response` in one call: `body` is a view of wasm memory (copied here;
 * empty means no body), `headers` is "name\nvalue\nname\nvalue\n…" (a header
 * value cannot hold a newline).
 */
export function respond(status, body, headers) {
  return new Response(body.length === 0 ? null : body.slice(), { status, headers: headerPairs(headers) });
}

/**
 * The token response: sign `body[inputStart..inputEnd]` (the JWS signing
 * input) with ES256 and write the signature, base64url, at `at`
 * (m2m_edge_core::http::SignatureSlot). WebCrypto's ECDSA result is already the
 * 64-byte R || S that JWS wants (RFC 7518 §3.4). On a rejection, a
 * signature of any other length or a Response that cannot be built,
 * `failed(reason)` (Rust) makes the answer.
 */
export function signThenRespond(subtle, algorithm, key, status, body, inputStart, inputEnd, at, headers, failed) {
  const bytes = body.slice();
  return subtle.sign(algorithm, key, bytes.subarray(inputStart, inputEnd)).then((buffer) => {
    const signature = new Uint8Array(buffer);
    if (signature.length !== 64) return failed(`unexpected signature length ${signature.length}`);
    const out = new Uint8Array(bytes.length + SIGNATURE_CHARS);
    out.set(bytes.subarray(0, at));
    base64urlInto(signature, out, at);
    out.set(bytes.subarray(at), at + SIGNATURE_CHARS);
    try {
      return new Response(out, { status, headers: headerPairs(headers) });
    } catch (error) {
      return failed(error);
    }
  }, failed);
}

function headerPairs(headers) {
  const parts = headers.split("\n");
  const pairs = [];
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i], parts[i + 1]]);
  return pairs;
}

// 64 bytes in unpadded base64url (RFC 4648 §5): 21 groups of 3, then 1 byte.
const SIGNATURE_CHARS = 86;
const ALPHABET = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

function base64urlInto(bytes, out, at) {
  let o = at;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = ALPHABET[n >> 18];
    out[o++] = ALPHABET[(n >> 12) & 63];
    out[o++] = ALPHABET[(n >> 6) & 63];
    out[o++] = ALPHABET[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
    out[o++] = ALPHABET[n >> 18];
    out[o++] = ALPHABET[(n >> 12) & 63];
    if (i + 1 < bytes.length) out[o++] = ALPHABET[(n >> 6) & 63];
  }
}

/**
 * Hand a request to another Worker over its service binding (`service`)
 * as it came, body unread, and answer with that Worker's response; then
 * `answered()` (Rust), if given, unless that Worker refused the request
 * (4xx): a refused request changed nothing, so it must not run what follows
 * a change, while a success did and a server error may have (a change
 * saved, a step after it failed). A failed call answers `failed(reason)`
 * (Rust).
 */
export function forward(service, request, answered, failed) {
  return service.fetch(request).then((response) => {
    if (answered !== undefined && !(response.status >= 400 && response.status < 500)) answered();
    return response;
  }, failed);
}
