// The web app in a real browser: Debian's chromium driven by
// playwright-core (no browser download). First the learning path as a
// person walks it, with mouse clicks and key presses at the widgets'
// places. Then for every story: open it, play
// it to its end at high speed, read the app's state through the exported
// `faultline.state()`, compare the fingerprint with the native run's, and
// save a screenshot. Then the performance figures: frames per second while
// playing, and a whole run in WebAssembly against the native time.
//
//   node browser_test.mjs URL EXPECTED_FILE SCREENSHOT_DIR CHROMIUM YOURS_DIR
//
// YOURS_DIR holds the learner's own scenarios (a file to open, a broken
// one, a `faultline share` link) and `expected.json`, their native
// fingerprints.
//
// Prints `ok <story> ...` or `FAIL <story> ...` per check.
import { readFileSync } from "node:fs";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { launch } from "./launch.mjs";

const [url, expectedFile, shots, executablePath, yoursDir] = process.argv.slice(2);
const expected = readFileSync(expectedFile, "utf8")
  .trim()
  .split("\n")
  .map((l) => {
    const [name, seed, fingerprint, nativeMs] = l.split(" ");
    return { name, seed, fingerprint, nativeMs: Number(nativeMs) };
  });

const browser = await launch(executablePath);
let failed = 0;
const fail = (what) => {
  failed += 1;
  console.log(`FAIL ${what}`);
};
const stateOf = async (page) => JSON.parse(await page.evaluate(() => window.faultline.state()));

// Clicks the widget the app drew under `name` (its places are published
// with the state, in CSS pixels from the canvas's corner) with the mouse,
// as a person would.
async function clickPlace(page, name) {
  const box = await page.locator("canvas").first().boundingBox();
  // The places are those of the last frame drawn: wait until two looks a
  // frame apart agree, so a layout still settling is not clicked.
  let place = (await stateOf(page)).places[name];
  for (let i = 0; i < 20; i++) {
    await page.waitForTimeout(100);
    const again = (await stateOf(page)).places[name];
    if (place && again && JSON.stringify(again) === JSON.stringify(place)) break;
    place = again;
  }
  if (!place) throw new Error(`nothing is drawn as ${name}`);
  const [x, y, w, h] = place;
  await page.mouse.click(box.x + x + w / 2, box.y + y + h / 2);
  await page.waitForTimeout(150);
}

// Scrolls the panel under widget `name` with the mouse wheel until the
// widget is in view (a long story panel puts its challenges below the
// fold), as a person would before clicking it.
async function scrollToPlace(page, name) {
  const box = await page.locator("canvas").first().boundingBox();
  // A view just opened may not have drawn its first frame yet: wait for
  // the place to appear (up to five seconds) before giving up.
  for (let wait = 0; wait < 25 && !(await stateOf(page)).places[name]; wait++) {
    await page.waitForTimeout(200);
  }
  for (let i = 0; i < 10; i++) {
    const place = (await stateOf(page)).places[name];
    if (!place) throw new Error(`nothing is drawn as ${name}`);
    const [x, y, , h] = place;
    if (y >= 0 && y + h <= box.height) return;
    await page.mouse.move(box.x + x + 5, box.y + box.height / 2);
    await page.mouse.wheel(0, y + h / 2 - box.height / 2);
    await page.waitForTimeout(200);
  }
}

// A story's "what to look for" item clicked highlights what it names,
// and a challenge taken, tried with the right number and checked with
// the mouse is won.
async function takeAChallenge(page, shots) {
  try {
    await page.evaluate(() => window.faultline.open_story("queues"));
    await page.waitForTimeout(300);
    await scrollToPlace(page, "look:1");
    await clickPlace(page, "look:1");
    const looked = await stateOf(page);
    await page.screenshot({ path: `${shots}/look-highlighted.png` });
    if (!looked.focus || !(looked.focus.node || looked.focus.chart)) return fail(`a look item highlights nothing: ${JSON.stringify(looked.focus)}`);
    await scrollToPlace(page, "take:1");
    await clickPlace(page, "take:1");
    const taken = await stateOf(page);
    if (taken.challenge?.title !== "Staff the surge" || taken.variant !== "unbounded-fifo") {
      return fail(`the challenge was not taken: ${JSON.stringify(taken.challenge)} ${taken.variant}`);
    }
    await page.evaluate(() => window.faultline.set_parameter("node.api.workers", "6"));
    await page.waitForTimeout(200);
    await scrollToPlace(page, "check");
    await clickPlace(page, "check");
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, { timeout: 120000, polling: 200 });
    await page.waitForTimeout(300);
    await scrollToPlace(page, "check");
    await page.screenshot({ path: `${shots}/challenge-won.png` });
    const tried = await stateOf(page);
    if (tried.challenge?.won === true) {
      console.log(`ok a look item highlights ${looked.focus.node ?? looked.focus.chart}; a challenge taken and checked with the mouse is won (${tried.challenge.measured})`);
    } else {
      fail(`the challenge try: ${JSON.stringify(tried.challenge)}`);
    }
  } catch (e) {
    fail(`a challenge: ${e}`);
  }
}

// A picture and a short video of the view, through the app's buttons,
// saved where the screenshots go: a PNG and a WebM, by their first bytes.
async function exportTheView(page, shots) {
  try {
    await page.evaluate(() => {
      window.faultline.open_story("double-charge");
      window.faultline.seek(10);
    });
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).time_s >= 10, null, { timeout: 60000 });
    const [picture] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), clickPlace(page, "picture")]);
    const png = `${shots}/export-${picture.suggestedFilename()}`;
    await picture.saveAs(png);
    const head = readFileSync(png);
    const isPng = head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    if (isPng && head.length > 20000 && picture.suggestedFilename() === "double-charge-as-written-seed1-10s.png") {
      console.log(`ok the view saves as a picture (${picture.suggestedFilename()}, ${head.length} bytes)`);
    } else {
      fail(`the picture: ${picture.suggestedFilename()}, ${head.length} bytes, png ${isPng}`);
    }
    await page.evaluate(() => window.faultline.play(5));
    await clickPlace(page, "video");
    await page.waitForTimeout(2000);
    const [video] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), clickPlace(page, "video")]);
    const webm = `${shots}/export-${video.suggestedFilename()}`;
    await video.saveAs(webm);
    const clip = readFileSync(webm);
    await page.evaluate(() => window.faultline.pause());
    if (clip.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])) && clip.length > 1000 && webm.endsWith(".webm")) {
      console.log(`ok the playback records as a video (${video.suggestedFilename()}, ${clip.length} bytes)`);
    } else {
      fail(`the video: ${video.suggestedFilename()}, ${clip.length} bytes`);
    }
  } catch (e) {
    fail(`export: ${e}`);
  }
}

// The learning path as a person walks it, with the mouse and the keyboard
// only: the home page, a chapter started, a variant chosen, a prediction
// answered, played with the space bar, run to its end, the verdict read;
// then the page comes back and remembers the story as done.
async function walkThePath(page, url, shots) {
  try {
    const home = await stateOf(page);
    if (!home.home || home.done.length !== 0) return fail(`the first page is not a fresh home page: ${JSON.stringify(home)}`);
    await page.screenshot({ path: `${shots}/path-1-home.png` });
    await clickPlace(page, "chapter:2");
    const opened = await stateOf(page);
    if (opened.story !== "double-charge") return fail(`chapter 2 opened ${opened.story}`);
    await page.screenshot({ path: `${shots}/path-2-chapter.png` });
    await clickPlace(page, "variant:no-idempotency");
    await clickPlace(page, "answer:1:3");
    const answered = await stateOf(page);
    if (answered.variant !== "no-idempotency" || answered.predictions[0]?.chosen !== 2) {
      return fail(`the answer was not taken: ${JSON.stringify(answered.predictions)}`);
    }
    await page.screenshot({ path: `${shots}/path-3-answered.png` });
    await page.keyboard.press("Space");
    await page.waitForTimeout(500);
    const playing = await stateOf(page);
    if (!(playing.time_s > 0)) return fail(`the space bar did not play: ${playing.time_s}`);
    await clickPlace(page, "to-end");
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, { timeout: 120000, polling: 200 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${shots}/path-4-verdict.png` });
    const verdict = await stateOf(page);
    if (verdict.predictions[0].supported !== 2 || !verdict.done.includes("double-charge") || !verdict.places.next) {
      return fail(`the verdict: ${JSON.stringify(verdict)}`);
    }
    await page.reload();
    await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null");
    await page.waitForTimeout(300);
    const back = await stateOf(page);
    await page.screenshot({ path: `${shots}/path-5-home-again.png` });
    if (!back.home || JSON.stringify(back.done) !== '["double-charge"]') return fail(`progress after a reload: ${JSON.stringify(back.done)}`);
    console.log("ok the learning path walked with mouse and keyboard: chapter, answer, play, verdict, progress kept");
  } catch (e) {
    fail(`the learning path: ${e}`);
  }
}
// The learner's own scenarios: a file picked with the "Open a file"
// button's dialog and one dropped on the page run with the native
// fingerprint; a broken one shows its located error; a link that
// `faultline share` makes opens the same run.
async function openYourOwn(page, url, shots) {
  const want = JSON.parse(readFileSync(`${yoursDir}/expected.json`, "utf8"));
  const finish = async () => {
    await page.evaluate(() => window.faultline.play(1000));
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, { timeout: 120000, polling: 200 });
    return stateOf(page);
  };
  try {
    await page.evaluate(() => window.faultline.go_home());
    await page.waitForTimeout(200);
    const [chooser] = await Promise.all([page.waitForEvent("filechooser", { timeout: 10000 }), clickPlace(page, "open-file")]);
    await chooser.setFiles(`${yoursDir}/incident.toml`);
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).story === "incident", null, { timeout: 10000 });
    await page.screenshot({ path: `${shots}/yours-1-opened.png` });
    const opened = await finish();
    if (opened.fingerprint === want.incident && opened.editor?.file === "incident.toml" && opened.editor.error === null) {
      console.log(`ok a file picked in the dialog runs as natively (${opened.fingerprint})`);
    } else {
      fail(`the picked file: ${opened.fingerprint} against ${want.incident}, editor ${JSON.stringify(opened.editor)}`);
    }
    // Dropped on the page: the browser's own drag and drop events.
    const dropFile = async (name) => {
      const text = readFileSync(`${yoursDir}/${name}`, "utf8");
      const transfer = await page.evaluateHandle(([t, n]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([t], n, { type: "text/plain" }));
        return dt;
      }, [text, name]);
      await page.dispatchEvent("canvas", "dragover", { dataTransfer: transfer });
      await page.dispatchEvent("canvas", "drop", { dataTransfer: transfer });
    };
    await page.evaluate(() => window.faultline.go_home());
    await dropFile("incident.toml");
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).story === "incident", null, { timeout: 10000 });
    const dropped = await finish();
    if (dropped.fingerprint === want.incident) {
      console.log(`ok a file dropped on the page runs as natively (${dropped.fingerprint})`);
    } else {
      fail(`the dropped file: ${dropped.fingerprint} against ${want.incident}`);
    }
    await dropFile("broken.toml");
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).editor?.file === "broken.toml", null, { timeout: 10000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${shots}/yours-2-broken.png` });
    const broken = await stateOf(page);
    const e = broken.editor.error;
    if (broken.story === null && e && e.line === 1 && e.column === 1 && e.text.includes("did you mean `title`?")) {
      console.log("ok a broken file dropped on the page shows its located error (1:1, with the suggestion)");
    } else {
      fail(`the dropped broken file: ${JSON.stringify(broken.editor)}, story ${broken.story}`);
    }
    // The builder, from an empty system: a node added with the mouse and
    // the keyboard appears in the text and the picture.
    await clickPlace(page, "empty");
    await clickPlace(page, "node-name");
    await page.keyboard.type("user");
    await clickPlace(page, "add-node");
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${shots}/yours-4-builder.png` });
    const builtText = await page.evaluate(() => window.faultline.editor_text());
    const built = await stateOf(page);
    if (builtText.includes('name = "user"') && builtText.includes('kind = "client"') && built.editor?.file === "my-system.toml") {
      console.log("ok the builder adds a node from the palette to the scenario's text");
    } else {
      fail(`the builder: ${JSON.stringify(built.editor)} ${builtText}`);
    }
    // A share link from the command line.
    await page.goto("about:blank");
    await page.goto(want.link);
    await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null");
    const linked = await finish();
    await page.screenshot({ path: `${shots}/yours-3-shared.png` });
    if (linked.fingerprint === want.link_fingerprint && linked.variant === "immediate-retries" && linked.seed === "3") {
      console.log(`ok a faultline share link opens the same run (${linked.fingerprint})`);
    } else {
      fail(`the share link: ${linked.fingerprint} against ${want.link_fingerprint}, ${linked.variant} seed ${linked.seed}`);
    }
  } catch (e) {
    fail(`your own scenario: ${e}`);
  }
}

try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null", null, {
    timeout: 60000,
  });
  await page.screenshot({ path: `${shots}/library.png` });
  // Frames the app has drawn so far.
  const frames = async () => JSON.parse(await page.evaluate(() => window.faultline.state())).frames;
  await walkThePath(page, url, shots);
  await exportTheView(page, shots);
  await takeAChallenge(page, shots);
  await openYourOwn(page, url, shots);
  await page.goto(url);
  await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null");
  const perf = [];
  for (const story of expected) {
    await page.evaluate((name) => window.faultline.open_story(name), story.name);
    // Frames the app draws while playing at 1x, over one second.
    await page.evaluate(() => window.faultline.play(1));
    await page.waitForTimeout(200);
    const f0 = await frames();
    const t0 = Date.now();
    await page.waitForTimeout(1000);
    const fps = ((await frames()) - f0) * 1000 / (Date.now() - t0);
    // Then on to the end: at the fastest speed (1000x), and for runs of
    // days by moving the time slider to the end; both work in slices.
    await page.evaluate(() => {
      window.faultline.play(1000);
      const s = JSON.parse(window.faultline.state());
      if (s.end_s > 600) window.faultline.seek(s.end_s);
    });
    try {
      await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, {
        timeout: 180000,
        polling: 200,
      });
    } catch (e) {
      fail(`${story.name}: did not finish playing in 3 minutes: ${e}`);
      continue;
    }
    const state = JSON.parse(await page.evaluate(() => window.faultline.state()));
    await page.screenshot({ path: `${shots}/${story.name}.png` });
    // A whole run, without drawing, timed.
    const wasmMs = await page.evaluate(
      ([name, seed]) => {
        const t = performance.now();
        window.faultline.story_fingerprint(name, "", Number(seed));
        return performance.now() - t;
      },
      [story.name, story.seed],
    );
    perf.push({ name: story.name, fps, wasmMs, nativeMs: story.nativeMs });
    const broken = state.expectations.filter((e) => e.error || !e.holds);
    if (state.fingerprint !== story.fingerprint) {
      fail(`${story.name}: fingerprint ${state.fingerprint} in the browser, ${story.fingerprint} natively`);
    } else if (state.error) {
      fail(`${story.name}: ${state.error}`);
    } else if (broken.length > 0) {
      fail(`${story.name}: expectations broken: ${JSON.stringify(broken)}`);
    } else {
      console.log(`ok ${story.name} fingerprint ${state.fingerprint}`);
    }
  }
  // The README's picture: the CAP story during its partition.
  await page.evaluate(() => {
    window.faultline.open_story("cap");
    window.faultline.choose_variant("cp");
    window.faultline.seek(35);
    window.faultline.play(1);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).time_s >= 35, null, {
    timeout: 60000,
  });
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${shots}/cap-partition.png` });
  // The lock story in the reconciler's first pause: the lock has passed
  // to the api worker, and the paused reconciler still says it holds its
  // old token.
  await page.evaluate(() => {
    window.faultline.open_story("lost-lock");
    window.faultline.choose_variant("no-fencing");
    window.faultline.seek(16.5);
    window.faultline.play(1);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).time_s >= 16.5, null, {
    timeout: 60000,
  });
  await page.screenshot({ path: `${shots}/lost-lock-pause.png` });
  {
    const labels = JSON.parse(await page.evaluate(() => window.faultline.state())).labels;
    const held = /holds #(\d+)/.exec(labels.reconciler);
    const lock = /#(\d+)$/.exec(labels.lock);
    if (!held || !(labels.lock === "lock (free)" || (labels.lock.startsWith("lock api-worker #") && Number(lock[1]) > Number(held[1])))) {
      fail(`lost-lock: in the pause the labels read ${JSON.stringify(labels)}`);
    } else {
      console.log(`ok in the lock story's pause: ${labels.lock}; ${labels.reconciler}`);
    }
  }
  // The election storm: every Raft member says its role and term, and
  // in the short variant the terms have climbed far past one.
  await page.evaluate(() => {
    window.faultline.open_story("election-storm");
    window.faultline.choose_variant("short");
    window.faultline.seek(20);
    window.faultline.play(1);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).time_s >= 20, null, {
    timeout: 60000,
  });
  await page.screenshot({ path: `${shots}/election-storm.png` });
  {
    const labels = JSON.parse(await page.evaluate(() => window.faultline.state())).labels;
    const terms = Object.entries(labels)
      .filter(([name]) => name.startsWith("config-"))
      .map(([, text]) => /term (\d+)/.exec(text))
      .filter((m) => m)
      .map((m) => Number(m[1]));
    if (terms.length !== 5 || Math.max(...terms) < 10) {
      fail(`election-storm: the members' labels read ${JSON.stringify(labels)}`);
    } else {
      console.log(`ok in the election storm: terms ${terms.join(", ")}`);
    }
  }
  // The minority side, five seconds into the cut: the two west members
  // have stood again and again (their terms above the east's), and the
  // picture shows their votes and the east leader's heartbeats.
  await page.evaluate(() => {
    window.faultline.open_story("minority-side");
    window.faultline.choose_variant("plain");
    window.faultline.seek(25);
    window.faultline.play(1);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).time_s >= 25, null, {
    timeout: 60000,
  });
  await page.screenshot({ path: `${shots}/minority-side.png` });
  {
    const labels = JSON.parse(await page.evaluate(() => window.faultline.state())).labels;
    const term = (name) => Number((/term (\d+)/.exec(labels[name] || "") || [0, -1])[1]);
    const west = Math.min(term("kv-0"), term("kv-4"));
    const east = Math.max(term("kv-1"), term("kv-2"), term("kv-3"));
    if (east < 2 || west <= east) {
      fail(`minority-side: the members' labels read ${JSON.stringify(labels)}`);
    } else {
      console.log(`ok on the minority side: west terms from ${west}, east at most ${east}`);
    }
  }
  // Narration: as the breaker opens in the cascade, its caption stands
  // beside orders while the run plays.
  await page.evaluate(() => {
    window.faultline.open_story("cascading-failure");
    window.faultline.choose_variant("breaker");
    window.faultline.seek(20.5);
    window.faultline.play(1);
  });
  const captioned = () =>
    JSON.parse(window.faultline.state()).captions.some((c) => c.node === "orders" && c.text.includes("circuit breaker open"));
  try {
    await page.waitForFunction(captioned, null, { timeout: 60000, polling: 100 });
  } catch (e) {
    fail(`narration: no caption of the breaker opening by ${JSON.parse(await page.evaluate(() => window.faultline.state())).time_s}s`);
  }
  const narrated = JSON.parse(await page.evaluate(() => window.faultline.state()));
  await page.screenshot({ path: `${shots}/narration.png` });
  if (narrated.captions.some((c) => c.node === "orders" && c.text.includes("circuit breaker open"))) {
    console.log("ok a breaker opening is captioned beside its node while playing");
  } else {
    fail(`narration: ${JSON.stringify(narrated.captions)}`);
  }
  // Paused, the page stops drawing: a still picture costs no frames.
  await page.evaluate(() => window.faultline.pause());
  await page.waitForTimeout(500);
  const still = await frames();
  await page.waitForTimeout(1000);
  const stillAfter = await frames();
  if (stillAfter - still === 0) {
    console.log(`ok paused, the page draws nothing (${stillAfter - still} frames in a second)`);
  } else {
    fail(`paused, the page still drew ${stillAfter - still} frames in a second`);
  }

  // Two variants side by side on one timeline, played to the end: each
  // side's lesson holds. Then a parameter changed from a slider's path.
  await page.evaluate(() => {
    window.faultline.open_story("double-charge");
    window.faultline.choose_variant("no-idempotency");
    window.faultline.compare("idempotency-keys");
    window.faultline.play(1000);
  });
  await page.waitForFunction(() => {
    const s = JSON.parse(window.faultline.state());
    return s.finished && s.compare && s.compare.finished;
  }, null, { timeout: 120000, polling: 200 });
  const sideBySide = JSON.parse(await page.evaluate(() => window.faultline.state()));
  await page.screenshot({ path: `${shots}/side-by-side.png` });
  const holds = (list) => list.length > 0 && list.every((e) => e.holds);
  if (holds(sideBySide.expectations) && holds(sideBySide.compare.expectations) && sideBySide.requests > 0) {
    console.log("ok two variants side by side, each lesson holds");
  } else {
    fail(`side by side: ${JSON.stringify(sideBySide)}`);
  }

  // A prediction graded by the run: the double charge without keys,
  // played to its end; the story panel shows the run's answer and the
  // number that decides it.
  await page.evaluate(() => {
    window.faultline.open_story("double-charge");
    window.faultline.choose_variant("no-idempotency");
    window.faultline.play(1000);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, {
    timeout: 120000,
    polling: 200,
  });
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${shots}/prediction-graded.png` });
  const graded = JSON.parse(await page.evaluate(() => window.faultline.state())).predictions;
  if (graded.length === 1 && graded[0].supported === 2 && graded[0].measured.startsWith("ledger.duplicate_charges = ")) {
    console.log(`ok a prediction is graded by the run (${graded[0].measured})`);
  } else {
    fail(`the prediction was not graded as expected: ${JSON.stringify(graded)}`);
  }
  await page.evaluate(() => {
    window.faultline.compare("");
    window.faultline.choose_variant("idempotency-keys");
    window.faultline.set_parameter("node.api.idempotency.ttl", '"100ms"');
    window.faultline.play(1000);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, { timeout: 120000, polling: 200 });
  const edited = JSON.parse(await page.evaluate(() => window.faultline.state()));
  const duplicates = edited.expectations.find((e) => e.metric === "ledger.duplicate_charges");
  if (edited.error === null && edited.changed_parameters === 1 && duplicates && !duplicates.holds && duplicates.actual > 0) {
    console.log("ok a parameter re-runs the story (keys that expire after 100ms let duplicates through)");
  } else {
    fail(`a changed parameter: ${JSON.stringify(edited)}`);
  }

  // A bad share link shows a message, not a blank page.
  await page.goto(`${url}index.html#v1/1/x/!!`);
  await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null");
  const bad = JSON.parse(await page.evaluate(() => window.faultline.state()));
  await page.screenshot({ path: `${shots}/bad-link.png` });
  if (bad.error && bad.error.startsWith("This link cannot be opened")) {
    console.log("ok a bad share link explains itself");
  } else {
    fail(`a bad share link: ${JSON.stringify(bad)}`);
  }
  // Share links are untrusted input: the app applies the CLI's limits.
  // A link whose rate no one can mean is refused with the loader's words;
  // one whose run outgrows its memory budget stops with the reason; and
  // the page keeps working after both.
  const linkTo = (text) => `v1/1/-/${deflateRawSync(Buffer.from(text)).toString("base64url")}`;
  const openLink = async (fragment) => {
    await page.goto("about:blank");
    await page.goto(`${url}index.html#${fragment}`);
    await page.waitForFunction(() => typeof window.faultline?.state === "function" && window.faultline.state() !== "null");
    return JSON.parse(await page.evaluate(() => window.faultline.state()));
  };
  await page.evaluate(() => window.faultline.open_story("double-charge"));
  const shared = await page.evaluate(() => window.faultline.share_fragment());
  const story = inflateRawSync(Buffer.from(shared.split("/")[3], "base64url")).toString();
  const trillion = await openLink(linkTo(story.replace('rate = "50/s"', 'rate = "1000000000000/s"')));
  await page.screenshot({ path: `${shots}/hostile-rate.png` });
  if (trillion.story === null && trillion.error && trillion.error.includes("a rate may be at most 1e6/s")) {
    console.log("ok a link with a rate of a trillion a second is refused with a readable message");
  } else {
    fail(`a link with a trillion a second: ${JSON.stringify(trillion)}`);
  }
  const storm = [
    'title = "storm"', 'summary = "unlimited retries against a slow service"',
    "[run]", 'duration = "600s"', 'memory_budget = "16MiB"',
    "[[node]]", 'name = "user"', 'kind = "client"', 'target = "api"', 'rate = "1000/s"', 'timeout = "10ms"',
    'retry = { attempts = 1000000000, backoff = "immediate" }',
    "[[node]]", 'name = "api"', 'kind = "service"', "workers = 1", 'service_time = "50ms"',
  ].join("\n");
  await openLink(linkTo(storm));
  await page.evaluate(() => window.faultline.play(1000));
  let stopped = null;
  try {
    await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, { timeout: 120000, polling: 200 });
    stopped = JSON.parse(await page.evaluate(() => window.faultline.state()));
  } catch (e) {
    fail(`the retry-storm link never stopped: ${e}`);
  }
  await page.screenshot({ path: `${shots}/hostile-storm.png` });
  if (stopped && stopped.cut_short && stopped.cut_short.includes("over its memory budget of 16.0 MiB") && stopped.time_s < 600) {
    console.log(`ok a link whose run outgrows its memory budget stops at ${stopped.time_s.toFixed(1)}s with the reason`);
  } else if (stopped) {
    fail(`the retry-storm link: ${JSON.stringify(stopped)}`);
  }
  await page.evaluate(() => {
    window.faultline.open_story("double-charge");
    window.faultline.choose_variant("idempotency-keys");
    window.faultline.play(1000);
  });
  await page.waitForFunction(() => JSON.parse(window.faultline.state()).finished, null, { timeout: 120000, polling: 200 });
  const after = JSON.parse(await page.evaluate(() => window.faultline.state()));
  if (after.cut_short === null && holds(after.expectations)) {
    console.log("ok after hostile links the app still opens and plays a story");
  } else {
    fail(`after hostile links: ${JSON.stringify(after)}`);
  }
  if (errors.length > 0) fail(`page errors: ${errors.join("; ")}`);
  console.error("\nstory                 fps   browser ms  native ms  ratio");
  for (const p of perf) {
    console.error(
      `${p.name.padEnd(20)} ${p.fps.toFixed(0).padStart(4)} ${p.wasmMs.toFixed(0).padStart(12)} ${p.nativeMs
        .toFixed(0)
        .padStart(10)} ${(p.wasmMs / Math.max(p.nativeMs, 0.001)).toFixed(2).padStart(6)}`,
    );
  }
} finally {
  await browser.close();
}
process.exit(failed > 0 ? 1 : 0);
