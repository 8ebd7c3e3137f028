// Test-only (scripts/latency-model/run.mjs, `make latency-model`): the
// built worker, unchanged, with its D1 binding wrapped so that every query
// costs the round trip of a placement — to the primary, or to the nearest
// read replica for queries made through a Sessions API session. The
// placement comes with each request in the `x-latency-model` header:
// `{"primary": ms, "replica": ms, "replay": ms?}` (`replay`: the round trip
// of the used-assertion write when it is modelled elsewhere than the
// primary, such as a Durable Object near the client). Nothing here is part
// of the Worker that ships.
import Service from "../../build/index.js";

const sleep = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** A prepared statement whose results arrive `rtt(sql)` ms late. */
class Statement {
  constructor(inner, sql, rtt) {
    this.inner = inner;
    this.sql = sql;
    this.rtt = rtt;
  }
  bind(...values) {
    return new Statement(this.inner.bind(...values), this.sql, this.rtt);
  }
  async first(column) {
    await sleep(this.rtt(this.sql));
    return this.inner.first(column);
  }
  async run() {
    await sleep(this.rtt(this.sql));
    return this.inner.run();
  }
  async all() {
    await sleep(this.rtt(this.sql));
    return this.inner.all();
  }
  async raw(options) {
    await sleep(this.rtt(this.sql));
    return this.inner.raw(options);
  }
}

/** The primary's round trip, or the modelled one for the replay write. */
function primaryRtt(placement) {
  return (sql) => (placement.replay !== undefined && /used_assertions/.test(sql) ? placement.replay : placement.primary);
}

/** Named as workers-rs expects a D1 binding to be. */
class D1Database {
  constructor(inner, placement) {
    this.inner = inner;
    this.placement = placement;
  }
  prepare(sql) {
    return new Statement(this.inner.prepare(sql), sql, primaryRtt(this.placement));
  }
  async batch(statements) {
    await sleep(this.placement.primary);
    return this.inner.batch(statements.map((s) => s.inner));
  }
  withSession(constraint) {
    const session = this.inner.withSession(constraint);
    const replica = () => this.placement.replica;
    return {
      prepare: (sql) => new Statement(session.prepare(sql), sql, replica),
      batch: async (statements) => {
        await sleep(this.placement.replica);
        return session.batch(statements.map((s) => s.inner));
      },
      getBookmark: () => session.getBookmark(),
    };
  }
}

export default {
  fetch(request, env, ctx) {
    const placement = JSON.parse(request.headers.get("x-latency-model") ?? '{"primary": 0, "replica": 0}');
    const placed = { ...env, DB: new D1Database(env.DB, placement) };
    return Service.prototype.fetch.call({ env: placed, ctx }, request);
  },
};
