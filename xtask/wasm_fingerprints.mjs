// Loads the wasm probe and prints fingerprints as 16 hex digits, one per
// line: of its reference systems for each seed
// (`node wasm_fingerprints.mjs probe.wasm 1 2 3`: the node-API system,
// then the contention scenario, for each seed in turn), or of every
// shipped story's every run (as written, then each variant) under one
// seed (`node wasm_fingerprints.mjs probe.wasm --stories 7`).
import { readFileSync } from "node:fs";

const [wasmPath, ...args] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const probe = instance.exports;
const hex = (v) => BigInt.asUintN(64, v).toString(16).padStart(16, "0");
if (args[0] === "--stories") {
  const seed = BigInt(args[1]);
  const count = probe.faultline_story_count();
  for (let i = 0; i < count; i++) {
    const runs = probe.faultline_story_runs(i);
    for (let run = 0; run < runs; run++) {
      console.log(hex(probe.faultline_story_fingerprint(i, run, seed)));
    }
  }
} else {
  for (const seed of args) {
    console.log(hex(probe.faultline_reference_fingerprint(BigInt(seed))));
    console.log(hex(probe.faultline_contention_fingerprint(BigInt(seed))));
  }
}
