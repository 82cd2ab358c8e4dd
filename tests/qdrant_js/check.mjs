// Qdrant's official JavaScript REST client (@qdrant/js-client-rest) against
// heimdex's Qdrant-compatible API: every call must succeed and return what
// Qdrant returns. Run by tests/integration/test_qdrant_js.py:
//   QDRANT_URL=http://127.0.0.1:PORT QDRANT_API_KEY=... node check.mjs
import assert from "node:assert/strict";
import { QdrantClient } from "@qdrant/js-client-rest";

const warnings = [];
console.warn = (...a) => warnings.push(a.join(" "));

const client = new QdrantClient({ url: process.env.QDRANT_URL, apiKey: process.env.QDRANT_API_KEY });
const C = "js_check";
const cities = ["Berlin", "London", "Paris"];
const vec = (i) => [Math.cos(i), Math.sin(i), (i % 5) / 5, 1];   // deterministic, distinct directions
const norm = (v) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
const cos = (a, b) => norm(a).reduce((s, x, k) => s + x * norm(b)[k], 0);
const step = async (name, fn) => {
  try { return await fn(); } catch (e) {
    console.error(`FAIL ${name}: ${e?.message} ${JSON.stringify(e?.data ?? "")}`);
    process.exit(1);
  }
};

const info = await step("versionInfo", () => client.versionInfo());
assert.equal(info.version, "1.19.0");
if ((await client.collectionExists(C)).exists) await client.deleteCollection(C);
assert.equal(await step("createCollection", () => client.createCollection(C, {
  vectors: { size: 4, distance: "Cosine" },
  sparse_vectors: { text: { modifier: "idf" } },
  hnsw_config: { m: 16, ef_construct: 100 },
  optimizers_config: { default_segment_number: 2 },
})), true);
assert.deepEqual(await client.collectionExists(C), { exists: true });
const idx = await step("createPayloadIndex", () =>
  client.createPayloadIndex(C, { field_name: "city", field_schema: "keyword", wait: true }));
assert.equal(idx.status, "completed");
await step("createPayloadIndex tenant", () =>
  client.createPayloadIndex(C, { field_name: "org", field_schema: { type: "keyword", is_tenant: true }, wait: true }));

const points = Array.from({ length: 30 }, (_, i) => ({
  id: i + 1, vector: vec(i), payload: { city: cities[i % 3], n: i, org: "o1" },
}));
const up = await step("upsert", () => client.upsert(C, { wait: true, points }));
assert.equal(up.status, "completed");
assert.equal(typeof up.operation_id, "number");
const uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26";
await step("upsert batch", () => client.upsert(C, { wait: true, batch: { ids: [uuid], vectors: [[0, 0, 1, 0]], payloads: [{ city: "Rome" }] } }));

const col = await step("getCollection", () => client.getCollection(C));
assert.equal(col.points_count, 31);
assert.equal(col.payload_schema.city.data_type, "keyword");
assert.equal(col.config.params.vectors.size, 4);

const q = [1, 0.2, 0.4, 1];
const flt = { must: [{ key: "city", match: { value: "Berlin" } }] };
const res = await step("query", () => client.query(C, { query: q, filter: flt, limit: 3, with_payload: true, params: { exact: true } }));
const want = points.filter((p) => p.payload.city === "Berlin")
  .map((p) => [cos(p.vector, q), p.id]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
assert.deepEqual(res.points.map((p) => p.id), want.map((w) => w[1]));
res.points.forEach((p, k) => {
  assert.ok(Math.abs(p.score - want[k][0]) < 1e-5, `score ${p.score} vs ${want[k][0]}`);
  assert.equal(p.payload.city, "Berlin");
  assert.equal(typeof p.version, "number");
});
const fused = await step("query fusion", () => client.query(C, {
  prefetch: [{ query: q, limit: 5 }, { query: [0, 1, 0, 0], limit: 5 }], query: { fusion: "rrf" }, limit: 4,
}));
assert.equal(fused.points.length, 4);
const batch = await step("queryBatch", () => client.queryBatch(C, { searches: [{ query: q, limit: 2 }, { query: 3, limit: 2 }] }));
assert.equal(batch.length, 2);
assert.ok(!batch[1].points.some((p) => p.id === 3), "a point id as query leaves the point out");

const page1 = await step("scroll", () => client.scroll(C, { limit: 20, with_payload: true }));
assert.deepEqual(page1.points.map((p) => p.id), Array.from({ length: 20 }, (_, i) => i + 1));
assert.equal(page1.next_page_offset, 21);
const page2 = await step("scroll 2", () => client.scroll(C, { limit: 20, offset: page1.next_page_offset }));
assert.equal(page2.points.length, 11);
assert.equal(page2.points[10].id, uuid);
assert.equal(page2.next_page_offset ?? null, null);

assert.deepEqual(await step("count", () => client.count(C, { filter: flt, exact: true })), { count: 10 });
const got = await step("retrieve", () => client.retrieve(C, { ids: [2, 9999], with_vector: true }));
assert.equal(got.length, 1);
assert.equal(got[0].payload.city, "London");
assert.equal(got[0].vector.length, 4);
await step("setPayload", () => client.setPayload(C, { payload: { tag: "x" }, points: [2], wait: true }));
assert.equal((await client.retrieve(C, { ids: [2] }))[0].payload.tag, "x");

const del = await step("delete by ids", () => client.delete(C, { wait: true, points: [1, 2] }));
assert.equal(del.status, "completed");
await step("delete by filter", () => client.delete(C, { wait: true, filter: flt }));
assert.deepEqual(await client.count(C, { exact: true }), { count: 31 - 2 - 9 });
await assert.rejects(client.getCollection("no_such_collection"), (e) => e.status === 404);
assert.equal(await step("deleteCollection", () => client.deleteCollection(C)), true);
assert.deepEqual(await client.collectionExists(C), { exists: false });

assert.deepEqual(warnings.filter((w) => /Failed to obtain server version|incompatible/.test(w)), []);
console.log("qdrant js client: all calls ok");
