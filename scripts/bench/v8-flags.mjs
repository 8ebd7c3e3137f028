// Test-only (make bench): V8 flags for the workerd that Miniflare starts.
// Miniflare hands workerd its configuration as one binary Cap'n Proto
// message on stdin and has no option for the configuration's `v8Flags`
// (workerd.capnp, `Config.v8Flags @2 :List(Text)`). `workerd-v8-flags.sh`,
// put in MINIFLARE_WORKERD_PATH, runs this filter over that message and
// then becomes the real workerd, so Miniflare's signals still reach it.
// The flags come from M2M_V8_FLAGS (space-separated); the only one used
// is `--trace-wasm-compilation-times` (scripts/bench/cold.mjs), which has
// V8 print one line per wasm function it compiles.
//
// The message framing and pointer encoding are Cap'n Proto's
// (https://capnproto.org/encoding.html): the flags are appended to the
// first segment as a list of text pointers and the root struct's third
// pointer (field @2) set to it.
import { readFileSync, writeSync } from "node:fs";

/** `message` (a whole Cap'n Proto stream) with `Config.v8Flags` set to `flags`. */
export function withV8Flags(message, flags) {
  const segments = message.readUInt32LE(0) + 1;
  const sizes = Array.from({ length: segments }, (_, i) => message.readUInt32LE(4 + 4 * i));
  const header = (4 * (1 + segments) + 7) & ~7;
  const first = message.subarray(header, header + 8 * sizes[0]);
  const root = first.readBigUInt64LE(0);
  if ((root & 3n) !== 0n) throw new Error("v8-flags: the root is not a struct pointer in the first segment");
  const offset = Number(BigInt.asIntN(30, (root >> 2n) & 0x3fffffffn));
  const dataWords = Number((root >> 32n) & 0xffffn);
  const pointerWords = Number((root >> 48n) & 0xffffn);
  const slot = 1 + offset + dataWords + 2; // Config's pointer fields: services, sockets, v8Flags
  if (pointerWords < 3 || first.readBigUInt64LE(8 * slot) !== 0n) throw new Error("v8-flags: Config.v8Flags is not an empty pointer");

  const texts = flags.map((f) => {
    const bytes = Buffer.from(`${f}\0`);
    return Buffer.concat([bytes, Buffer.alloc((8 - (bytes.length % 8)) % 8)]);
  });
  const list = sizes[0]; // word index of the appended list
  const extra = Buffer.alloc(8 * flags.length + texts.reduce((n, t) => n + t.length, 0));
  // A pointer word: tag 1 (list), offset from the word after it, element size, count.
  const listPointer = (at, target, elementSize, count) =>
    (BigInt(count) << 35n) | (BigInt(elementSize) << 32n) | (BigInt.asUintN(30, BigInt(target - at - 1)) << 2n) | 1n;
  let text = list + flags.length;
  texts.forEach((t, i) => {
    extra.writeBigUInt64LE(listPointer(list + i, text, 2, Buffer.byteLength(flags[i]) + 1), 8 * i); // List(UInt8) with its NUL
    t.copy(extra, 8 * (text - list));
    text += t.length / 8;
  });
  const patched = Buffer.concat([first, extra]);
  patched.writeBigUInt64LE(listPointer(slot, list, 6, flags.length), 8 * slot); // List(pointer)

  const head = Buffer.from(message.subarray(0, header));
  head.writeUInt32LE(sizes[0] + extra.length / 8, 4);
  return Buffer.concat([head, patched, message.subarray(header + 8 * sizes[0])]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = (process.env.M2M_V8_FLAGS ?? "").split(" ").filter(Boolean);
  const message = readFileSync(0);
  writeSync(1, flags.length ? withV8Flags(message, flags) : message);
}
