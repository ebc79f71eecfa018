import { describeReadiness, fetchReadiness } from "./health";
import "./style.css";

async function boot(): Promise<void> {
  const status = document.querySelector<HTMLElement>("[data-hub-status]");
  if (!status) {
    return;
  }
  const readiness = await fetchReadiness();
  status.textContent = describeReadiness(readiness);
  status.dataset.ready = String(readiness.ready);
}

void boot();
