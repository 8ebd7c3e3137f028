// The few steps of a request that are cheaper in JS than across the
// wasm boundary (src/wasm/mod.rs says why each exists; BENCHMARKS.md has the
// figures). No protocol decisions here.

/**
 * Read the request body, then continue in Rust: `next(request, env, bytes)`,
 * with `bytes` undefined when the body could not be read. A long-lived Rust
 * callback, so no per-request closure is built on either side.
 */
export function withBody(request, env, next) {
  return request.arrayBuffer().then(
    (buffer) => next(request, env, new Uint8Array(buffer)),
    () => next(request, env, undefined),
  );
}

/**
 * One `Response` in one call: `body` is a view of wasm memory (copied here;
 * empty means no body), `headers` is "name\nvalue\nname\nvalue…" (header
 * values cannot hold a newline).
 */
export function respond(status, body, headers) {
  const pairs = [];
  if (headers.length > 0) {
    const parts = headers.split("\n");
    for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i], parts[i + 1]]);
  }
  return new Response(body.length === 0 ? null : body.slice(), { status, headers: pairs });
}
