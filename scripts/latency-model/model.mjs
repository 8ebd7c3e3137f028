// Test-only (scripts/latency-model/run.mjs, `make latency-model`): a
// built Worker, unchanged, with its D1 binding wrapped so that every query
// costs the round trip of a placement — to the primary, or to the nearest
// read replica for queries made through a Sessions API session. The
// placement comes with each request in the `x-latency-model` header:
// `{"primary": ms, "replica": ms, "replay": ms?}` (`replay`: the round trip
// of the used-assertion write when it is modelled elsewhere than the
// primary, such as a Durable Object near the client). Each response says
// how many round trips its request made (`x-latency-model-round-trips`).
// Nothing here is part of the Worker that ships.
//
// With a second D1 database bound as `REPLICA` (tests/e2e/replicas.test.mjs),
// it also stands in for a lagging read replica: Sessions API reads are
// answered from REPLICA whenever it is at least as new as the session
// needs — as D1 promises for a bookmark — and from the primary otherwise.
// Versions count the writes made through this shim; bookmarks are
// `bm-<version>`, so they sort like D1's. `POST /__replica/sync` copies the
// primary's records into REPLICA. Writes made to the primary behind the
// shim's back stand for another location's: the replica does not lag them
// as far as the shim knows, which is how a replica serves a stale record.

const sleep = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** One round trip of `placement`'s request: counted, then waited for. */
function roundTrip(placement, ms) {
  placement.trips = (placement.trips ?? 0) + 1;
  return sleep(ms);
}

/** Writes made through the shim (the primary's version), and the version REPLICA holds. */
const versions = { primary: 0, replica: 0 };

/** A prepared statement whose results arrive `rtt(sql)` ms late. */
class Statement {
  constructor(inner, sql, rtt, placement) {
    this.inner = inner;
    this.sql = sql;
    this.rtt = rtt;
    this.placement = placement;
  }
  bind(...values) {
    return new Statement(this.inner.bind(...values), this.sql, this.rtt, this.placement);
  }
  async first(column) {
    await roundTrip(this.placement, this.rtt(this.sql));
    return this.inner.first(column);
  }
  async run() {
    await roundTrip(this.placement, this.rtt(this.sql));
    const result = await this.inner.run();
    versions.primary++;
    return result;
  }
  async all() {
    await roundTrip(this.placement, this.rtt(this.sql));
    return this.inner.all();
  }
  async raw(options) {
    await roundTrip(this.placement, this.rtt(this.sql));
    return this.inner.raw(options);
  }
}

/** The primary's round trip, or the modelled one for the replay write. */
function primaryRtt(placement) {
  return (sql) => (placement.replay !== undefined && /used_assertions/.test(sql) ? placement.replay : placement.primary);
}

/**
 * A Sessions API session over the primary and REPLICA: each query goes to
 * REPLICA when it is at least as new as the session has seen (never for
 * the first query of a `first-primary` session), else to the primary.
 */
class EmulatedSession {
  constructor(primary, replica, constraint, placement) {
    this.primary = primary;
    this.replica = replica;
    this.placement = placement;
    this.primaryFirst = constraint === "first-primary";
    this.seen = constraint === "first-primary" || constraint === "first-unconstrained" ? 0 : Number(constraint.slice(3));
    this.asked = false;
  }
  prepare(sql) {
    return { bind: (...values) => this.query(sql, values) };
  }
  query(sql, values) {
    const pick = () => {
      const fromPrimary = (this.primaryFirst && !this.asked) || versions.replica < this.seen;
      this.asked = true;
      this.seen = fromPrimary ? versions.primary : Math.max(this.seen, versions.replica);
      const db = fromPrimary ? this.primary : this.replica;
      return { statement: db.prepare(sql).bind(...values), rtt: fromPrimary ? this.placement.primary : this.placement.replica };
    };
    const run = (method) => async (arg) => {
      const { statement, rtt } = pick();
      await roundTrip(this.placement, rtt);
      return statement[method](arg);
    };
    return { first: run("first"), all: run("all"), raw: run("raw"), run: run("run") };
  }
  getBookmark() {
    return this.asked ? `bm-${String(this.seen).padStart(12, "0")}` : null;
  }
}

/** Copy the primary's records into REPLICA: it is now as new as the primary. */
async function syncReplica(primary, replica) {
  const tables = ["projects", "clients", "resources", "trusted_issuers", "key_set"];
  const statements = [...tables].reverse().map((t) => replica.prepare(`DELETE FROM ${t}`));
  for (const table of tables) {
    const { results } = await primary.prepare(`SELECT * FROM ${table}`).all();
    for (const row of results) {
      const columns = Object.keys(row);
      const insert = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
      statements.push(replica.prepare(insert).bind(...columns.map((c) => row[c])));
    }
  }
  await replica.batch(statements);
  versions.replica = versions.primary;
}

/** Named as workers-rs expects a D1 binding to be. */
class D1Database {
  constructor(inner, placement, replica) {
    this.inner = inner;
    this.placement = placement;
    this.replica = replica;
  }
  prepare(sql) {
    return new Statement(this.inner.prepare(sql), sql, primaryRtt(this.placement), this.placement);
  }
  async batch(statements) {
    await roundTrip(this.placement, this.placement.primary);
    return this.inner.batch(statements.map((s) => s.inner));
  }
  withSession(constraint) {
    if (this.replica) return new EmulatedSession(this.inner, this.replica, constraint ?? "first-unconstrained", this.placement);
    const session = this.inner.withSession(constraint);
    const replica = () => this.placement.replica;
    return {
      prepare: (sql) => new Statement(session.prepare(sql), sql, replica, this.placement),
      batch: async (statements) => {
        await roundTrip(this.placement, this.placement.replica);
        return session.batch(statements.map((s) => s.inner));
      },
      getBookmark: () => session.getBookmark(),
    };
  }
}

/**
 * The handler of `Service` (a built Worker's entrypoint class) with its D1
 * binding wrapped as above: shim.mjs for the token service, shim-admin.mjs
 * for the admin Worker, which the token service hands admin requests to
 * with their headers (so with their placement).
 */
export function modelled(Service) {
  return {
    async fetch(request, env, ctx) {
      if (env.REPLICA && new URL(request.url).pathname === "/__replica/sync") {
        await syncReplica(env.DB, env.REPLICA);
        return new Response(JSON.stringify(versions), { headers: { "content-type": "application/json" } });
      }
      const placement = JSON.parse(request.headers.get("x-latency-model") ?? '{"primary": 0, "replica": 0}');
      const placed = { ...env, DB: new D1Database(env.DB, placement, env.REPLICA) };
      const response = await Service.prototype.fetch.call({ env: placed, ctx }, request);
      const counted = new Response(response.body, response);
      counted.headers.set("x-latency-model-round-trips", String(placement.trips ?? 0));
      return counted;
    },
  };
}
