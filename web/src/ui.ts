// Small DOM helpers shared by the pages: element builder (text only goes in
// through textContent, so broker data can never inject markup), number and
// byte formatting, the confirmation dialog and the notice line.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((ev: Event) => void) | undefined>;

/** h("td", {class: "num"}, 42): attributes starting with "on" are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
    tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = String(v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function fmtInt(n: number | undefined | null): string {
  return n === undefined || n === null ? "–" : Math.round(n).toLocaleString("en-US");
}

export function fmtRate(x: number | undefined | null): string {
  if (x === undefined || x === null) return "–";
  if (x === 0) return "0/s";
  if (x < 10) return `${x.toFixed(1)}/s`;
  return `${Math.round(x).toLocaleString("en-US")}/s`;
}

export function fmtBytes(n: number | undefined | null): string {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function fmtDuration(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  s -= mm * 60;
  if (d > 0) return `${d}d ${hh}h ${mm}m`;
  if (hh > 0) return `${hh}h ${mm}m ${s}s`;
  if (mm > 0) return `${mm}m ${s}s`;
  return `${s}s`;
}

export function fmtTime(msEpoch: number): string {
  if (!msEpoch) return "–";
  const d = new Date(msEpoch);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** Shows text in the page's notice line (kind "error" is red) until the next call. */
export function notice(text: string, kind: "info" | "error" = "info"): void {
  const n = document.getElementById("notice");
  if (!n) return;
  n.textContent = text;
  n.className = text ? `notice ${kind}` : "notice";
  n.setAttribute("data-kind", kind);
}

/** A dialog field: a text input, or a select when `options` is given. */
export interface Field { name: string; label: string; value?: string; type?: string;
                         placeholder?: string; required?: boolean; options?: string[];
                         hint?: string; trim?: boolean }

/**
 * A modal confirmation dialog. Resolves to the field values when the user
 * confirms, or null when they cancel (Escape, Cancel button). The confirm
 * button carries data-testid="confirm-ok" and the text `action`.
 */
export function confirmDialog(title: string, message: string, action: string,
                              fields: Field[] = [], danger = true):
    Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    const inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
    const form = h("form", { method: "dialog", class: "dialog-form" },
      h("h2", {}, title),
      h("p", { class: "dialog-message" }, message),
      ...fields.map((f) => {
        const input = f.options
          ? h("select", { name: f.name, required: f.required ?? false,
                          "data-testid": `dialog-${f.name}` },
              ...f.options.map((o) => h("option", { value: o, selected: o === f.value }, o)))
          : h("input", {
            name: f.name, type: f.type ?? "text", value: f.value ?? "",
            placeholder: f.placeholder, required: f.required ?? false,
            autocomplete: f.type === "password" ? "new-password" : "off",
            "data-testid": `dialog-${f.name}`,
          });
        inputs[f.name] = input;
        return h("label", {}, f.label, input,
                 f.hint ? h("span", { class: "muted small" }, f.hint) : null);
      }),
      h("div", { class: "dialog-buttons" },
        h("button", { type: "button", value: "cancel", "data-testid": "confirm-cancel",
                      onclick: () => dlg.close("cancel") }, "Cancel"),
        h("button", { type: "submit", value: "ok", class: danger ? "danger" : "primary",
                      "data-testid": "confirm-ok" }, action)));
    const dlg = h("dialog", { class: "confirm", "data-testid": "confirm-dialog" }, form);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      dlg.close("ok");
    });
    dlg.addEventListener("close", () => {
      const ok = dlg.returnValue === "ok";
      const values: Record<string, string> = {};
      for (const [k, i] of Object.entries(inputs)) {
        const f = fields.find((x) => x.name === k);
        values[k] = f?.trim === false ? i.value : i.value.trim();
      }
      dlg.remove();
      resolve(ok ? values : null);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** An inline SVG sparkline of `values` (oldest first); empty for fewer than two. */
export function sparkline(values: number[], width = 120, height = 24): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("data-points", String(values.length));
  svg.setAttribute("data-last", values.length ? String(values[values.length - 1]) : "");
  if (values.length < 2) return svg;
  const max = Math.max(1, ...values);
  const step = width / (values.length - 1);
  const pts = values.map((v, i) =>
    `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  const area = document.createElementNS(ns, "polygon");
  area.setAttribute("points", `0,${height} ${pts.join(" ")} ${width},${height}`);
  area.setAttribute("class", "spark-area");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  line.setAttribute("class", "spark-line");
  svg.append(area, line);
  const title = document.createElementNS(ns, "title");
  title.textContent = `depth over the last ${values.length} polls (max ${max})`;
  svg.append(title);
  return svg;
}

/** A table with a header row; `empty` is shown as a single row when there are no rows. */
export function table(testid: string, columns: { label: string; num?: boolean }[],
                      rows: HTMLTableRowElement[], empty: string): HTMLTableElement {
  const thead = h("thead", {}, h("tr", {},
    ...columns.map((c) => h("th", { class: c.num ? "num" : undefined }, c.label))));
  const tbody = h("tbody", {});
  if (rows.length === 0) {
    tbody.append(h("tr", { class: "empty" }, h("td", { colspan: columns.length }, empty)));
  } else {
    tbody.append(...rows);
  }
  return h("table", { class: "grid", "data-testid": testid }, thead, tbody);
}

export function num(v: number | string, extra: Attrs = {}): HTMLTableCellElement {
  return h("td", { class: "num", ...extra }, typeof v === "number" ? fmtInt(v) : v);
}

/** The notice on an administrators-only page opened by someone else. */
export function adminOnly(what: string): HTMLElement {
  return h("p", { class: "muted", "data-testid": "admin-only" },
           `Only users tagged administrator may see and change ${what}.`);
}
