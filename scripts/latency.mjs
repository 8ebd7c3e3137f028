// Token request latency under `wrangler dev`, per storage configuration: a simple
// sequential loop (not a load test; `make bench` is the benchmark). Prints
// p50 / p90 / p99 in milliseconds. Usage: node scripts/latency.mjs [N]
import { createClient, startWranglerDev } from "./wrangler-dev.mjs";

const n = Number(process.argv[2] ?? 300);
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

for (const storage of ["d1-replicas", "d1"]) {
  const dev = await startWranglerDev({ storage });
  try {
    const c = await createClient(dev.base, dev.secrets.ADMIN_API_KEY, {
      name: "latency",
      grants: [{ audience: "https://api.example.com", scopes: ["read"] }],
    });
    const init = {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    };
    for (let i = 0; i < 20; i++) await (await fetch(`${dev.base}/oauth2/token`, init)).text(); // warm up
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const r = await fetch(`${dev.base}/oauth2/token`, init);
      await r.text();
      if (r.status !== 200) throw new Error(`token request failed: ${r.status}`);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    const f = (x) => x.toFixed(2);
    console.log(`${storage}: ${n} sequential token requests under wrangler dev: p50 ${f(percentile(times, 50))} ms, p90 ${f(percentile(times, 90))} ms, p99 ${f(percentile(times, 99))} ms`);
  } finally {
    await dev.stop();
  }
}
