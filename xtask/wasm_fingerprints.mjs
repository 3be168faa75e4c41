// Loads the wasm probe and prints fingerprints as 16 hex digits, one per
// line: of its reference system for each seed
// (`node wasm_fingerprints.mjs probe.wasm 1 2 3`), or of every shipped
// story under one seed (`node wasm_fingerprints.mjs probe.wasm --stories 7`).
import { readFileSync } from "node:fs";

const [wasmPath, ...args] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const hex = (v) => BigInt.asUintN(64, v).toString(16).padStart(16, "0");
if (args[0] === "--stories") {
  const seed = BigInt(args[1]);
  const count = instance.exports.faultline_story_count();
  for (let i = 0; i < count; i++) {
    console.log(hex(instance.exports.faultline_story_fingerprint(i, seed)));
  }
} else {
  for (const seed of args) {
    console.log(hex(instance.exports.faultline_reference_fingerprint(BigInt(seed))));
  }
}
