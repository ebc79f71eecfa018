// The duty officer's screen: incidents, their live channel, and pending alerts.

import { ApiError, getIncident, getMe, listIncidents, signIn, signOut } from "./api";
import type { IncidentSummary, Me } from "./api";
import type { EventFrame, PendingAlert, Presence } from "./protocol";
import { HubSocket, newClientMsgId, socketUrl } from "./realtime";
import type { ConnectionStatus } from "./realtime";
import { describe } from "./timeline";

type Attrs = Record<string, string>;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

function time(iso: string): string {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export async function mountApp(root: HTMLElement): Promise<void> {
  let me: Me;
  try {
    me = await getMe();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      renderSignIn(root);
      return;
    }
    throw error;
  }
  new OfficerScreen(root, me).start();
}

function renderSignIn(root: HTMLElement): void {
  const username = h("input", { name: "username", autocomplete: "username", required: "" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: "" });
  const problem = h("p", { class: "problem", role: "alert" });
  const form = h(
    "form",
    { class: "sign-in", "data-testid": "sign-in" },
    h("h2", {}, "Sign in"),
    h("label", {}, "Username", username),
    h("label", {}, "Password", password),
    h("button", { type: "submit" }, "Sign in"),
    problem,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(username.value, password.value)
      .then(() => mountApp(root))
      .catch((error: unknown) => {
        problem.textContent = error instanceof ApiError ? error.detail : "Could not sign in.";
      });
  });
  root.replaceChildren(form);
}

class OfficerScreen {
  private readonly socket: HubSocket;
  private readonly status = h("span", { class: "connection", "data-testid": "connection" }, "connecting");
  private readonly incidentList = h("ul", { class: "incidents", "data-testid": "incidents" });
  private readonly alertList = h("ul", { class: "alerts", "data-testid": "alerts" });
  private readonly detail = h("section", { class: "detail", "data-testid": "detail" }, h("p", { class: "hint" }, "Choose an incident."));
  private current: string | null = null;
  private readonly pending = new Map<number, PendingAlert>();

  constructor(
    private readonly root: HTMLElement,
    private readonly me: Me,
  ) {
    this.socket = new HubSocket({
      url: socketUrl(),
      onStatus: (s: ConnectionStatus) => this.showStatus(s),
      onPendingAlerts: (frame) => {
        if (frame.crossing_point === null) {
          this.pending.clear();
        }
        for (const alert of frame.alerts) {
          this.pending.set(alert.id, alert);
        }
        this.renderAlerts();
      },
    });
  }

  start(): void {
    const agencies = [...new Set(this.me.memberships.map((m) => m.agency))].join(", ");
    const logout = h("button", { class: "link", "data-testid": "sign-out" }, "Sign out");
    logout.addEventListener("click", () => {
      this.socket.stop();
      void signOut().then(() => mountApp(this.root));
    });
    this.root.replaceChildren(
      h("div", { class: "who" }, h("strong", { "data-testid": "me" }, this.me.name), ` · ${agencies} · `, this.status, " ", logout),
      h(
        "div",
        { class: "layout" },
        h("aside", {}, h("h2", {}, "Alerts to acknowledge"), this.alertList, h("h2", {}, "Incidents"), this.incidentList),
        this.detail,
      ),
    );
    this.socket.start();
    void this.loadIncidents();
  }

  private showStatus(status: ConnectionStatus): void {
    this.status.textContent = status;
    this.status.dataset.status = status;
    if (status === "signed-out") {
      void mountApp(this.root);
    }
  }

  private async loadIncidents(): Promise<void> {
    const { items } = await listIncidents();
    this.incidentList.replaceChildren(
      ...items.map((incident) => {
        const button = h(
          "button",
          { class: `incident severity-${incident.severity}`, "data-ref": incident.ref },
          h("span", { class: "ref" }, incident.ref),
          " ",
          incident.title,
          h("span", { class: "status" }, ` ${incident.status}`),
        );
        button.addEventListener("click", () => void this.open(incident.ref));
        return h("li", {}, button);
      }),
    );
  }

  private renderAlerts(): void {
    const items = [...this.pending.values()];
    if (items.length === 0) {
      this.alertList.replaceChildren(h("li", { class: "hint" }, "Nothing waiting."));
      return;
    }
    this.alertList.replaceChildren(
      ...items.map((alert) => {
        const ack = h("button", { "data-alert": String(alert.id) }, "Acknowledge");
        ack.addEventListener("click", () => {
          ack.setAttribute("disabled", "");
          this.socket
            .ackAlert(alert.id, newClientMsgId())
            .then(() => {
              this.pending.delete(alert.id);
              this.renderAlerts();
            })
            .catch(() => ack.removeAttribute("disabled"));
        });
        const label = `${alert.exercise ? "EXERCISE — " : ""}${alert.title}`;
        return h(
          "li",
          { class: `alert severity-${alert.severity}${alert.overdue ? " overdue" : ""}` },
          h("span", { class: "alert-title" }, label),
          h("span", { class: "meta" }, ` ${alert.crossing_point} · for ${alert.agencies.join(", ")}`),
          " ",
          ack,
        );
      }),
    );
  }

  private async open(ref: string): Promise<void> {
    const incident = await getIncident(ref);
    if (this.current !== null) {
      this.socket.unsubscribe(this.current);
    }
    this.current = incident.stream;
    const timeline = h("ol", { class: "timeline", "data-testid": "timeline" });
    const presence = h("p", { class: "presence", "data-testid": "presence" });
    const typing = h("p", { class: "typing", "data-testid": "typing" });
    const body = h("textarea", { name: "body", rows: "2", placeholder: "Message the agencies on this incident", "data-testid": "composer" });
    const send = h("button", { type: "submit", "data-testid": "send" }, "Send");
    const form = h("form", { class: "composer" }, body, send);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = body.value.trim();
      if (!text) {
        return;
      }
      body.value = "";
      const outgoing = h("li", { class: "message pending" }, h("span", { class: "text" }, text), h("span", { class: "meta" }, " sending…"));
      timeline.append(outgoing);
      this.socket
        .sendMessage(incident.stream, text)
        .then(() => outgoing.remove())
        .catch((error: { detail?: string }) => {
          outgoing.classList.add("failed");
          outgoing.lastElementChild!.textContent = ` not sent: ${error.detail ?? "refused"}`;
        });
    });
    body.addEventListener("input", () => this.socket.typing(incident.stream));
    this.detail.replaceChildren(this.header(incident), presence, timeline, typing, form);
    this.socket.subscribe(incident.stream, {
      event: (event: EventFrame) => this.append(timeline, event),
      presence: (frame: Presence) => {
        presence.textContent = `Online: ${Object.entries(frame.online)
          .map(([agency, users]) => `${agency} (${users.map((u) => u.name).join(", ")})`)
          .join(" · ")}`;
      },
      typing: (frame) => {
        typing.textContent = `${frame.user.name} (${frame.user.agency ?? ""}) is typing…`;
        setTimeout(() => (typing.textContent = ""), 3000);
      },
      revoked: () => {
        this.detail.replaceChildren(h("p", { class: "problem" }, "Your access to this incident has ended."));
      },
    });
  }

  private header(incident: IncidentSummary): HTMLElement {
    return h(
      "header",
      {},
      h("h2", { "data-testid": "incident-title" }, `${incident.ref} — ${incident.title}`),
      h(
        "p",
        { class: "meta" },
        `${incident.crossing_point} · ${incident.category} · ${incident.severity} · ${incident.status} · lead ${incident.lead_agency} · agencies ${incident.participating_agencies.join(", ")}`,
      ),
      h("p", {}, incident.description),
    );
  }

  private append(timeline: HTMLElement, event: EventFrame): void {
    const line = describe(event);
    const mine = event.actor?.username === this.me.username;
    timeline.append(
      h(
        "li",
        { class: `${line.kind}${mine ? " mine" : ""}${line.redacted ? " redacted" : ""}`, "data-seq": String(line.seq) },
        h("span", { class: "meta" }, `${time(line.at)} ${line.who}${line.agency ? ` (${line.agency})` : ""}: `),
        h("span", { class: "text" }, line.text),
      ),
    );
    timeline.scrollTop = timeline.scrollHeight;
  }
}
