// Boot: the officer's language first (so nothing renders in the wrong one),
// then the shell; who is signed in loads behind it.

import { render } from "preact";
import { App } from "./app/App";
import { installTitleCounter } from "./app/attention";
import { loadSession } from "./app/session";
import { startClock } from "./components/clock";
import { initLocale } from "./i18n";
import "./style.css";

async function boot(): Promise<void> {
  await initLocale();
  installTitleCounter();
  startClock();
  const root = document.getElementById("hub-app");
  if (root) {
    root.replaceChildren();
    render(<App />, root);
  }
  void loadSession();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
  }
}

void boot();
