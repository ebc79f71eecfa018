// A thin uPlot wrapper for the metrics page: one bar and one dot per row key
// (median and 90th percentile, or this period's rate and the previous one),
// with dashed horizontal target lines (the acknowledgement windows). uPlot and
// its CSS are imported here only, so they load with the metrics page alone.
//
// The chart is a picture of the table beside it: hidden from screen readers
// (the figure's caption points to the table), drawn left to right whatever the
// page's direction (a time axis does not flip), and coloured from the page's
// own ink and lines so it reads in either theme.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { direction, locale } from "../i18n";
import { type ChartTarget, visibleTargets } from "./metrics";

export interface ChartProps {
  /** One label per row key, in table order. */
  keys: string[];
  /** The bar (median, or this period's rate). */
  bar: (number | null)[];
  /** The dot (90th percentile, or the previous period's rate). */
  dot: (number | null)[];
  /** "duration": seconds on the value axis; "rate": 0 to 1 shown as percent. */
  kind: "duration" | "rate";
  /** Formats a value for the axis (durations, percentages). */
  format: (value: number) => string;
  targets?: ChartTarget[];
  testId?: string;
}

// Colours that hold contrast on a light and a dark ground alike.
export const BAR_COLOUR = "#3f7fcf";
export const DOT_COLOUR = "#d9480f";
export const TARGET_COLOUR = "#8a5a00";

const HEIGHT = 220;
// Steps a reader counts in: seconds, minutes, hours, days.
const DURATION_STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800];

function cssVar(el: Element, name: string, fallback: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Canvas text for the page's direction: the chart is laid out left to right, so
 * an Urdu label ("15 منٹ") is embedded right to left (RLE…PDF) to read as it
 * would in the page.
 */
function directed(text: string, rtl: boolean): string {
  return rtl ? `\u202b${text}\u202c` : text;
}

function options(props: ChartProps, width: number, host: HTMLElement, rtl: boolean): uPlot.Options {
  const ink = getComputedStyle(host).color || "#14202e";
  const line = cssVar(host, "--line", "#c9d2dc");
  const values = [...props.bar, ...props.dot].filter((v): v is number => v !== null);
  const dataMax = Math.max(0, ...values);
  const targets = props.kind === "duration" ? visibleTargets(props.targets ?? [], dataMax || 60) : [];
  const top =
    props.kind === "rate" ? 1 : Math.max(dataMax, ...targets.map((tg) => tg.value), 60) * 1.12;
  const many = props.keys.length > 4;
  return {
    width,
    height: HEIGHT + (many ? 40 : 0),
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: false, range: () => [-0.5, props.keys.length - 0.5] },
      y: { range: () => [0, top] },
    },
    axes: [
      {
        stroke: ink,
        grid: { show: false },
        ticks: { stroke: line },
        splits: () => props.keys.map((_, i) => i),
        values: (_u, splits) => splits.map((i) => directed(shorten(props.keys[i] ?? "", many ? 24 : 40), rtl)),
        rotate: many ? -25 : 0,
        size: many ? 80 : 40,
      },
      {
        stroke: ink,
        grid: { stroke: line, width: 1 },
        ticks: { stroke: line },
        incrs: props.kind === "rate" ? [0.1, 0.2, 0.25, 0.5] : DURATION_STEPS,
        values: (_u, splits) => splits.map((v) => directed(props.format(v), rtl)),
        size: 80,
      },
    ],
    series: [
      {},
      {
        label: "bar",
        stroke: BAR_COLOUR,
        fill: `${BAR_COLOUR}cc`,
        width: 1,
        paths: uPlot.paths.bars?.({ size: [0.5, 56] }),
        points: { show: false },
      },
      {
        label: "dot",
        stroke: DOT_COLOUR,
        width: 0,
        paths: () => null,
        points: { show: true, size: 11, width: 2, stroke: DOT_COLOUR, fill: DOT_COLOUR },
      },
    ],
    hooks: {
      draw: [
        (u) => {
          if (targets.length === 0) return;
          const ctx = u.ctx;
          const ratio = uPlot.pxRatio;
          ctx.save();
          ctx.strokeStyle = TARGET_COLOUR;
          ctx.fillStyle = TARGET_COLOUR;
          ctx.lineWidth = 1.5 * ratio;
          ctx.setLineDash([6 * ratio, 4 * ratio]);
          ctx.font = `${12 * ratio}px system-ui, sans-serif`;
          ctx.textAlign = "right";
          ctx.textBaseline = "bottom";
          const left = u.bbox.left;
          const right = u.bbox.left + u.bbox.width;
          for (const target of targets) {
            const y = Math.round(u.valToPos(target.value, "y", true));
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(right, y);
            ctx.stroke();
            ctx.fillText(directed(target.label, rtl), right - 4 * ratio, y - 2 * ratio);
          }
          ctx.restore();
        },
      ],
    },
  };
}

export function Chart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  // Redrawn when the language changes (the axis labels are translated).
  const lang = locale.value;
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const data: uPlot.AlignedData = [props.keys.map((_, i) => i), props.bar, props.dot];
    const width = () => Math.max(240, Math.floor(el.clientWidth));
    const plot = new uPlot(options(props, width(), el, direction.value === "rtl"), data, el);
    let last = width();
    const observer = new ResizeObserver(() => {
      const now = width();
      if (now !== last) {
        last = now;
        plot.setSize({ width: now, height: plot.height });
      }
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.keys.join("\u0000"), props.bar.join(","), props.dot.join(","), props.kind, lang, (props.targets ?? []).map((tg) => `${tg.label}=${tg.value}`).join(",")]);
  return <div class="metrics-chart" dir="ltr" ref={host} data-testid={props.testId} />;
}
