// The web app's performance in headless chromium, for BENCHMARKS.md
// (`cargo xtask bench` runs it; tests never time anything). Per story:
// frames per second while playing at 1x, and a whole run to its end in
// WebAssembly (the app's run: its first run, and the median of seven warm
// ones) against the native release
// figures `cargo bench -p sim-web --bench playback` wrote.
//
//   node browser_perf.mjs URL NATIVE_FILE CHROMIUM [WIDTHxHEIGHT]
//
// Prints a Markdown table.
import { readFileSync } from "node:fs";
import { launch } from "./launch.mjs";

const [url, nativeFile, executablePath, size = "1400x900"] = process.argv.slice(2);
const [width, height] = size.split("x").map(Number);
const stories = readFileSync(nativeFile, "utf8")
  .trim()
  .split("\n")
  .map((l) => {
    const [name, seed, fingerprint, nativeMs, appMs] = l.split(" ");
    return { name, seed, fingerprint, nativeMs: Number(nativeMs), appMs: Number(appMs) };
  });
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const browser = await launch(executablePath);
const rows = [];
try {
  const page = await browser.newPage({ viewport: { width, height } });
  await page.goto(url);
  await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null", null, {
    timeout: 60000,
  });
  const frames = async () => JSON.parse(await page.evaluate(() => window.faultline.state())).frames;
  // Warm up first (the browser compiles the hot WebAssembly functions
  // again, optimised, after their first calls; egui builds its font atlas
  // on the first frames), so the first story measured is not the slowest.
  await page.evaluate(([name, seed]) => {
    window.faultline.story_fingerprint(name, "", Number(seed));
    window.faultline.open_story(name);
    window.faultline.play(1);
  }, [stories[0].name, stories[0].seed]);
  await page.waitForTimeout(1500);
  // The machines are noisy in bursts of seconds: every figure is the
  // median over rounds, each round going through every story once, so a
  // burst spoils one round of a few stories rather than all of one.
  const fpsFor = async (ms) => {
    await page.waitForTimeout(300);
    const f0 = await frames();
    const t0 = Date.now();
    await page.waitForTimeout(ms);
    return ((await frames()) - f0) * 1000 / (Date.now() - t0);
  };
  const byStory = new Map(stories.map((s) => [s.name, { fps: [], fpsHidden: [], runs: [] }]));
  for (let round = 0; round < 3; round++) {
    for (const story of stories) {
      const m = byStory.get(story.name);
      await page.evaluate((name) => window.faultline.open_story(name), story.name);
      await page.evaluate(() => window.faultline.play(1));
      m.fps.push(await fpsFor(1500));
      // With the story panel hidden (less text to draw).
      await page.evaluate(() => window.faultline.show_story(false));
      m.fpsHidden.push(await fpsFor(1500));
      await page.evaluate(() => window.faultline.show_story(true));
      await page.evaluate(() => window.faultline.pause());
    }
  }
  const runOnce = (story) =>
    page.evaluate(
      ([name, seed]) => {
        const t = performance.now();
        window.faultline.story_fingerprint(name, "", Number(seed));
        return performance.now() - t;
      },
      [story.name, story.seed],
    );
  // The first run of a story is partly in V8's baseline code: it compiles
  // a function with its optimising tier only once that function has been
  // hot for a while, and this story may call some for the first time. The
  // native figures are medians of warm runs, so these are too: three runs
  // to warm up, then the median over seven rounds.
  await page.waitForTimeout(500);
  for (const story of stories) {
    const m = byStory.get(story.name);
    m.firstMs = await runOnce(story);
    for (let i = 0; i < 2; i++) await runOnce(story);
  }
  for (let round = 0; round < 7; round++) {
    for (const story of stories) byStory.get(story.name).runs.push(await runOnce(story));
  }
  for (const story of stories) {
    const m = byStory.get(story.name);
    rows.push({
      ...story,
      fps: median(m.fps),
      fpsHidden: median(m.fpsHidden),
      firstMs: m.firstMs,
      wasmMs: median(m.runs),
    });
  }
} finally {
  await browser.close();
}
console.log(
  `| story | fps at 1x (${width}x${height}) | fps, story hidden | browser, first run (ms) | browser run to end (ms) | native app (ms) | native run (ms) | browser / native app | browser / native run |`,
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.fps.toFixed(0)} | ${r.fpsHidden.toFixed(0)} | ${r.firstMs.toFixed(1)} | ${r.wasmMs.toFixed(1)} | ${r.appMs.toFixed(1)} | ${r.nativeMs.toFixed(1)} | ${(r.wasmMs / r.appMs).toFixed(2)} | ${(r.wasmMs / r.nativeMs).toFixed(2)} |`,
  );
}
const worst = (f) => Math.max(...rows.map(f)).toFixed(2);
console.log(
  `| median | ${median(rows.map((r) => r.fps)).toFixed(0)} | ${median(rows.map((r) => r.fpsHidden)).toFixed(0)} | | | | | ${median(rows.map((r) => r.wasmMs / r.appMs)).toFixed(2)} | ${median(rows.map((r) => r.wasmMs / r.nativeMs)).toFixed(2)} |`,
);
console.log(
  `| worst | ${Math.min(...rows.map((r) => r.fps)).toFixed(0)} | ${Math.min(...rows.map((r) => r.fpsHidden)).toFixed(0)} | | | | | ${worst((r) => r.wasmMs / r.appMs)} | ${worst((r) => r.wasmMs / r.nativeMs)} |`,
);
