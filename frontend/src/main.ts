import { mountApp } from "./app";
import { describeReadiness, fetchReadiness } from "./health";
import "./style.css";

async function showReadiness(): Promise<void> {
  const status = document.querySelector<HTMLElement>("[data-hub-status]");
  if (!status) {
    return;
  }
  const readiness = await fetchReadiness();
  status.textContent = describeReadiness(readiness);
  status.dataset.ready = String(readiness.ready);
}

void showReadiness();
const root = document.querySelector<HTMLElement>("#hub-app");
if (root) {
  void mountApp(root);
}
