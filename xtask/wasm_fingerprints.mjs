// Loads the wasm probe and prints its reference fingerprints, one per seed,
// as 16 hex digits: `node wasm_fingerprints.mjs probe.wasm 1 2 3`.
import { readFileSync } from "node:fs";

const [wasmPath, ...seeds] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const run = instance.exports.faultline_reference_fingerprint;
for (const seed of seeds) {
  const value = BigInt.asUintN(64, run(BigInt(seed)));
  console.log(value.toString(16).padStart(16, "0"));
}
