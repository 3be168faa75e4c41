// How the browser scripts start Debian's chromium through playwright-core
// (no browser download): headless, no sandbox (CI runs as root), no
// background network traffic, WebGL on SwiftShader (there is no GPU).
import { chromium } from "playwright-core";

export function launch(executablePath) {
  return chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--enable-unsafe-swiftshader",
    ],
  });
}
