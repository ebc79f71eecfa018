// Small DOM helpers shared by the screens (no framework: the app is small).

export type Attrs = Record<string, string>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | false)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    element.setAttribute(name, value);
  }
  element.append(...children.filter((c): c is Node | string => c !== null && c !== false));
  return element;
}

/** "14:05" (the officer's local time). */
export function time(iso: string): string {
  const date = new Date(iso);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** "14:05" today, "22 Nov 14:05" on another day. */
export function when(iso: string, now: number = Date.now()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  if (date.toDateString() === new Date(now).toDateString()) {
    return time(iso);
  }
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time(iso)}`;
}

/**
 * Replace `container`'s content with `render()`, keeping keyboard focus on the
 * element with the same `data-focus-key` (re-rendering must not lose the place
 * of a keyboard or screen-reader user). Falls back to `[data-focus-fallback]`.
 */
export function rerender(container: HTMLElement, render: () => Node[]): void {
  const active = document.activeElement as HTMLElement | null;
  const hadFocus = active !== null && container.contains(active);
  const key = hadFocus ? active.dataset.focusKey : undefined;
  container.replaceChildren(...render());
  if (!hadFocus) {
    return;
  }
  const again =
    (key ? container.querySelector<HTMLElement>(`[data-focus-key="${key}"]`) : null) ??
    container.querySelector<HTMLElement>("[data-focus-fallback]");
  again?.focus();
}
