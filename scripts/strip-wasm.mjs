// Drop the `name` and `producers` custom sections from the built wasm.
// worker-build's wasm-opt run keeps them (~160 KB of function names); they
// carry no semantics, only debugging symbols. Usage: node scripts/strip-wasm.mjs <file.wasm>
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const b = readFileSync(file);
if (b.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file} is not a wasm module`);
const DROP = new Set(["name", "producers"]);
const keep = [b.subarray(0, 8)];
let p = 8;
const leb = () => {
  let r = 0, s = 0, x;
  do { x = b[p++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
  return r;
};
let dropped = 0;
while (p < b.length) {
  const start = p;
  const id = b[p++];
  const size = leb();
  const body = p;
  const end = body + size;
  let drop = false;
  if (id === 0) {
    const len = leb();
    drop = DROP.has(b.subarray(p, p + len).toString("utf8"));
  }
  if (drop) dropped += end - start;
  else keep.push(b.subarray(start, end));
  p = end;
}
writeFileSync(file, Buffer.concat(keep));
console.log(`strip-wasm: removed ${dropped} bytes of name/producers sections from ${file}`);
