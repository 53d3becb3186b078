// A small line chart in plain SVG, for the queue page's history (a dozen
// points: uPlot's canvas, axes and cursor would be more than the data).
// Lines share one y scale from 0; the x axis is time. The box carries the
// figures as data attributes (data-points, data-last-KEY, data-max-KEY) so
// tests read what is drawn without parsing the SVG.

import { h } from "./ui";

export interface Line { key: string; label: string; color: string; values: number[] }

const kNs = "http://www.w3.org/2000/svg";
const kW = 360;
const kH = 140;
const kPad = { left: 44, right: 8, top: 8, bottom: 20 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>,
                                                   text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(kNs, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const clock = (t: number) => new Date(t * 1000).toLocaleTimeString("en-GB");

/** A chart box; update() redraws it from times (seconds, oldest first) and lines. */
export function lineChart(title: string, testid: string, unit: (v: number) => string) {
  const plot = svg("svg", { width: kW, height: kH, viewBox: `0 0 ${kW} ${kH}`, class: "line-chart" });
  const legend = h("div", { class: "legend small" });
  const empty = h("div", { class: "muted small" });
  const box = h("figure", { class: "mini-chart", "data-testid": testid, "data-points": 0 },
                h("figcaption", {}, title), plot, legend, empty);

  const update = (t: number[], lines: Line[]) => {
    box.setAttribute("data-points", String(t.length));
    box.setAttribute("data-first", t.length ? String(t[0]) : "");
    for (const l of lines) {
      box.setAttribute(`data-last-${l.key}`, l.values.length ? String(l.values[l.values.length - 1]) : "");
      box.setAttribute(`data-max-${l.key}`, String(Math.max(0, ...l.values)));
    }
    legend.replaceChildren(...lines.map((l) => h("span", { class: "legend-item" },
      h("span", { class: "swatch", style: `background:${l.color}` }),
      `${l.label} ${l.values.length ? unit(l.values[l.values.length - 1]) : "–"}`)));
    plot.replaceChildren();
    empty.textContent = t.length < 2
      ? "No history yet: the broker samples a queue every 5 s once messages move through it." : "";
    if (t.length < 2) return;
    const max = Math.max(1, ...lines.flatMap((l) => l.values)) * 1.1;
    const t0 = t[0];
    const span = Math.max(1, t[t.length - 1] - t0);
    const x = (v: number) => kPad.left + ((v - t0) / span) * (kW - kPad.left - kPad.right);
    const y = (v: number) => kPad.top + (1 - v / max) * (kH - kPad.top - kPad.bottom);
    const bottom = kH - kPad.bottom;
    plot.append(
      svg("line", { x1: kPad.left, y1: bottom, x2: kW - kPad.right, y2: bottom, class: "axis" }),
      svg("line", { x1: kPad.left, y1: kPad.top, x2: kPad.left, y2: bottom, class: "axis" }),
      svg("text", { x: kPad.left - 4, y: y(max / 1.1) + 4, "text-anchor": "end", class: "tick" }, unit(max / 1.1)),
      svg("text", { x: kPad.left - 4, y: bottom, "text-anchor": "end", class: "tick" }, unit(0)),
      svg("text", { x: kPad.left, y: kH - 4, class: "tick" }, clock(t0)),
      svg("text", { x: kW - kPad.right, y: kH - 4, "text-anchor": "end", class: "tick" }, clock(t[t.length - 1])));
    for (const l of lines) {
      const pts = l.values.map((v, i) => `${x(t[i]).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      const line = svg("polyline", { points: pts, fill: "none", stroke: l.color, "stroke-width": 2,
                                     "data-series": l.key });
      line.append(svg("title", {}, l.label));
      plot.append(line);
    }
  };
  return { box, update };
}
