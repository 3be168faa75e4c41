//! The web app's build, server and browser test.
//!
//! - `build_site`: sim-web for wasm32 in release, wasm-bindgen (its CLI
//!   pinned to the exact version in Cargo.lock, installed if missing),
//!   wasm-opt from the npm package `binaryen`, and an index.html, into
//!   `target/web/dist`.
//! - `serve`: a static file server on 127.0.0.1.
//! - `browser_test`: the site in Debian's chromium, driven by
//!   playwright-core (no browser download): every story opened, played
//!   to its end, its fingerprint compared with the native run; screenshots
//!   in `target/web/screenshots`.

use crate::{WASM_TARGET, cargo, root, run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the site is written.
pub fn dist() -> PathBuf {
    root().join("target/web/dist")
}

fn web_tools() -> PathBuf {
    root().join("xtask/web")
}

/// The wasm-bindgen version the workspace locks (the CLI must match it
/// exactly).
fn locked_wasm_bindgen() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            let version = lines.next().unwrap_or_default();
            if let Some(v) = version
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(v.to_string());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen".into())
}

fn ensure_wasm_bindgen(version: &str) -> Result<(), String> {
    let current = Command::new("wasm-bindgen").arg("--version").output();
    if let Ok(out) = current
        && String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            == Some(version)
    {
        return Ok(());
    }
    // Not `--locked`: its lockfile wants crates this registry lacks.
    let mut install = cargo();
    install.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
    ]);
    run(&format!("install wasm-bindgen-cli {version}"), install)
}

/// `npm ci` in xtask/web (playwright-core and binaryen, locked).
fn ensure_node_tools() -> Result<(), String> {
    let dir = web_tools();
    if dir.join("node_modules/.bin/wasm-opt").exists()
        && dir.join("node_modules/playwright-core").exists()
    {
        return Ok(());
    }
    let mut npm = Command::new("npm");
    npm.current_dir(&dir)
        .args(["ci", "--no-audit", "--no-fund"]);
    run("npm ci (binaryen, playwright-core)", npm)
}

/// Builds the site; returns the optimised .wasm's size in bytes.
pub fn build_site() -> Result<u64, String> {
    crate::ensure_wasm_target()?;
    let mut build = cargo();
    build.args([
        "build",
        "-p",
        "sim-web",
        "--lib",
        "--target",
        WASM_TARGET,
        "--profile",
        "web",
    ]);
    run("sim-web builds for wasm32 (profile web)", build)?;
    let version = locked_wasm_bindgen()?;
    ensure_wasm_bindgen(&version)?;
    ensure_node_tools()?;
    let out = dist();
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let wasm = root().join(format!("target/{WASM_TARGET}/web/sim_web.wasm"));
    let mut bindgen = Command::new("wasm-bindgen");
    bindgen
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&out)
        .arg(&wasm);
    run("wasm-bindgen", bindgen)?;
    let bg = out.join("sim_web_bg.wasm");
    let before = file_size(&bg)?;
    let mut opt = Command::new(web_tools().join("node_modules/.bin/wasm-opt"));
    opt.arg("-O3")
        .args([
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
        ])
        .arg(&bg)
        .arg("-o")
        .arg(&bg);
    run("wasm-opt -O3", opt)?;
    let after = file_size(&bg)?;
    std::fs::write(out.join("index.html"), INDEX_HTML).map_err(|e| e.to_string())?;
    eprintln!(
        "site: {} (sim_web_bg.wasm {:.2} MB after wasm-bindgen, {:.2} MB after wasm-opt)",
        out.display(),
        before as f64 / 1e6,
        after as f64 / 1e6
    );
    Ok(after)
}

fn file_size(p: &Path) -> Result<u64, String> {
    std::fs::metadata(p)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", p.display()))
}

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Faultline</title>
<style>
  html, body { margin: 0; height: 100%; background: #1b1b1b; color: #ddd; font-family: sans-serif; }
  canvas { display: block; width: 100%; height: 100%; }
  #status { position: absolute; top: 40%; width: 100%; text-align: center; }
</style>
</head>
<body>
<canvas id="faultline-canvas"></canvas>
<div id="status">Loading Faultline…</div>
<script type="module">
  import init, * as faultline from "./sim_web.js";
  const status = document.getElementById("status");
  // egui anti-aliases its own shapes, so the canvas needs no multisampling,
  // which WebGL turns on by default and which costs every pixel dearly
  // where the GPU is software. The app later gets this same context.
  document.getElementById("faultline-canvas")
    .getContext("webgl2", { antialias: false, depth: false, stencil: false });
  // Export for a slide or a postmortem: a PNG of the current view, and a
  // WebM of the playback (the canvas's own stream, recorded by
  // MediaRecorder). The frames are taken from the stream, so the canvas
  // keeps its cheap, unpreserved drawing buffer.
  const canvas = document.getElementById("faultline-canvas");
  const download = (blob, name) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  };
  // Opening a scenario file: a file input the app's "Open a file" button
  // clicks; what is picked is read and handed to the app.
  const picker = document.createElement("input");
  picker.type = "file";
  picker.accept = ".toml,text/plain";
  picker.style.display = "none";
  document.body.appendChild(picker);
  picker.addEventListener("change", async () => {
    const file = picker.files[0];
    if (file && file.size > 1048576) faultline.refuse_file(file.name, file.size);
    else if (file) faultline.open_text(file.name, await file.text());
    picker.value = "";
  });
  window.faultlineFiles = { pick() { picker.click(); } };
  let recorder = null;
  window.faultlineExport = {
    async png(name) {
      // The canvas keeps no drawing buffer after a frame, so the picture
      // is the next frame it draws, taken from its stream; the app is
      // asked to draw until the stream has one.
      const stream = canvas.captureStream();
      const video = document.createElement("video");
      video.muted = true;
      video.srcObject = stream;
      const ticker = setInterval(() => window.faultline?.redraw?.(), 50);
      try {
        await video.play();
        while (video.videoWidth === 0) await new Promise((r) => setTimeout(r, 20));
        const still = document.createElement("canvas");
        [still.width, still.height] = [video.videoWidth, video.videoHeight];
        still.getContext("2d").drawImage(video, 0, 0);
        still.toBlob((blob) => download(blob, name), "image/png");
      } finally {
        clearInterval(ticker);
        stream.getTracks().forEach((t) => t.stop());
      }
    },
    recording() {
      return recorder !== null;
    },
    record(name, seconds) {
      if (recorder) return;
      const chunks = [];
      recorder = new MediaRecorder(canvas.captureStream(30), { mimeType: "video/webm" });
      recorder.ondataavailable = (e) => e.data.size > 0 && chunks.push(e.data);
      recorder.onstop = () => {
        recorder = null;
        download(new Blob(chunks, { type: "video/webm" }), name);
      };
      recorder.start(250);
      setTimeout(() => recorder?.stop(), seconds * 1000);
    },
    stop() {
      recorder?.stop();
    },
  };
  try {
    await init();
    window.faultline = faultline;
    faultline.start("faultline-canvas").then(() => status.remove(), (e) => {
      status.textContent = "Faultline could not start: " + e;
    });
  } catch (e) {
    status.textContent = "Faultline could not load: " + e;
  }
</script>
</body>
</html>
"#;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn answer(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(stream.try_clone()?).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let rel = if path == "/" {
        "index.html"
    } else {
        path.trim_start_matches('/')
    };
    let file = dir.join(rel);
    // Only files in the site, never above it.
    let inside = !rel.split('/').any(|p| p == ".." || p.is_empty());
    match std::fs::File::open(&file) {
        Ok(mut f) if inside => {
            let mut body = Vec::new();
            f.read_to_end(&mut body)?;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                content_type(&file),
                body.len()
            )?;
            stream.write_all(&body)
        }
        _ => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
        ),
    }
}

/// Serves `dir` on 127.0.0.1:`port` (0: any free port); returns the bound
/// listener's URL and serves on a thread.
pub fn serve_in_background(dir: PathBuf, port: u16) -> Result<String, String> {
    let listener =
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer(stream, &dir);
        }
    });
    Ok(format!("http://{addr}/"))
}

/// `cargo xtask serve [--port N]`: builds the site if needed and serves it
/// until interrupted.
pub fn serve(port: u16) -> Result<(), String> {
    if !dist().join("index.html").exists() {
        build_site()?;
    }
    let url = serve_in_background(dist(), port)?;
    println!("Faultline is at {url} (Ctrl-C stops it)");
    loop {
        std::thread::park();
    }
}

/// Where chromium is: `$CHROMIUM`, or Debian's.
fn chromium() -> Result<String, String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!(
            "the browser checks need chromium at {chromium} (apt-get install chromium; .ci/run does)"
        ));
    }
    Ok(chromium)
}

/// Plays every story in headless chromium; compares each fingerprint with
/// the native run of the same story and seed. Returns (passed, failed).
pub fn browser_test() -> Result<(u64, u64), String> {
    let chromium = chromium()?;
    build_site()?;
    let url = serve_in_background(dist(), 0)?;
    let shots = root().join("target/web/screenshots");
    std::fs::create_dir_all(&shots).map_err(|e| e.to_string())?;
    // What the browser must match: each story as written, on its own seed.
    let mut expected = String::new();
    for (name, text) in sim_core::scenario::STORIES {
        let scenario = sim_core::scenario::load(name, name, text).map_err(|d| d.to_string())?;
        let spec = scenario.resolve(None, &[])?;
        let seed = spec.run.seed;
        let started = std::time::Instant::now();
        let mut built = sim_core::scenario::build(&spec, seed)?;
        let fingerprint = built.run().fingerprint.0;
        let native_ms = started.elapsed().as_secs_f64() * 1e3;
        expected.push_str(&format!(
            "{name} {seed} {fingerprint:016x} {native_ms:.1}\n"
        ));
    }
    let expected_file = root().join("target/web/expected.txt");
    std::fs::write(&expected_file, expected).map_err(|e| e.to_string())?;
    let yours = yours_files(&url)?;
    eprintln!("\n==> browser test (chromium, playwright-core) at {url}");
    let out = Command::new("node")
        .arg(web_tools().join("browser_test.mjs"))
        .arg(&url)
        .arg(&expected_file)
        .arg(&shots)
        .arg(&chromium)
        .arg(&yours)
        .output()
        .map_err(|e| format!("could not start node: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    print!("{stdout}");
    let (mut passed, mut failed) = (0, 0);
    for line in stdout.lines() {
        if line.starts_with("ok ") {
            passed += 1;
        } else if line.starts_with("FAIL ") {
            failed += 1;
        }
    }
    if !out.status.success() && failed == 0 {
        return Err(format!("the browser test failed ({})", out.status));
    }
    Ok((passed, failed))
}

/// The learner's own scenarios for the browser test, in
/// `target/web/yours`: a file to open (a story with a changed rate), a
/// broken one, and a `faultline share` link with a variant and a seed;
/// `expected.json` holds what each must give natively.
fn yours_files(url: &str) -> Result<PathBuf, String> {
    let dir = root().join("target/web/yours");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let story = |name: &str| {
        sim_core::scenario::STORIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| format!("no story {name}"))
    };
    let native = |text: &str, variant: Option<&str>, seed: u64| -> Result<String, String> {
        let s = sim_core::scenario::load("f", "f.toml", text).map_err(|d| d.to_string())?;
        let spec = s.resolve(variant, &[])?;
        Ok(sim_core::scenario::build(&spec, seed)?
            .run()
            .fingerprint
            .to_string())
    };
    let incident = story("double-charge")?.replace("rate = \"50/s\"", "rate = \"60/s\"");
    let broken = story("double-charge")?.replacen("title", "titel", 1);
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("incident.toml", &incident)?;
    write("broken.toml", &broken)?;
    let shared = sim_core::scenario::Shared {
        text: story("retry-storm")?,
        variant: Some("immediate-retries".into()),
        seed: 3,
    };
    let link = sim_core::scenario::share_link(&format!("{url}index.html"), &shared)?;
    // Hex digits and a URL's characters: nothing to escape.
    let expected = format!(
        "{{\"incident\": \"{}\", \"link\": \"{link}\", \"link_fingerprint\": \"{}\"}}\n",
        native(&incident, None, 1)?,
        native(&shared.text, shared.variant.as_deref(), shared.seed)?
    );
    write("expected.json", &expected)?;
    Ok(dir)
}

/// The web app's performance in headless chromium against the native
/// figures in `native` (written by the sim-web playback bench): a
/// Markdown table.
pub fn browser_perf(native: &Path) -> Result<String, String> {
    let chromium = chromium()?;
    build_site()?;
    let url = serve_in_background(dist(), 0)?;
    eprintln!("\n==> browser benchmark (chromium, playwright-core) at {url}");
    let out = Command::new("node")
        .arg(web_tools().join("browser_perf.mjs"))
        .arg(&url)
        .arg(native)
        .arg(&chromium)
        .output()
        .map_err(|e| format!("could not start node: {e}"))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("the browser benchmark failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect())
}
