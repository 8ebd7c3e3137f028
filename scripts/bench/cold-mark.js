// Test-only (make bench, scripts/bench/cold.mjs): imported first by
// cold-probe.mjs, so it is evaluated just before the built worker's module.
globalThis.__coldMark = performance.now();
