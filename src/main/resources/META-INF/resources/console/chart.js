// A small SVG line chart: axes with round ticks, one polyline per series. Enough for loss and learning-rate curves.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** About n round tick values covering [lo, hi]. */
export function ticks(lo, hi, n = 4) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

export function fmt(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return +v.toPrecision(3) + '';
}

/**
 * Draws points [[x, y], ...] into the svg (its viewBox sets the size). opts: {label, color, yMin, xLabel}.
 * The svg's aria-label says what a screen reader needs: how many points and the last value.
 */
/** At most about max points, evenly spread, first and last kept: a long run's curve stays cheap to draw. */
function thin(points, max = 1500) {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max), out = points.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}

export function draw(svg, all, opts = {}) {
  const points = thin(all);
  const [, , W, H] = svg.getAttribute('viewBox').split(' ').map(Number);
  const m = { l: 48, r: 10, t: 8, b: 22 };
  svg.replaceChildren();
  const label = opts.label || 'value';
  if (!points.length) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'waiting for the first points…'));
    svg.setAttribute('aria-label', `${label}: no points yet`);
    svg.dataset.points = 0;
    return;
  }
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = opts.yMin ?? Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; if (opts.yMin === undefined) y0 -= d; y1 += d; }
  const pad = (y1 - y0) * 0.05; y1 += pad; if (opts.yMin === undefined) y0 -= pad;
  const X = x => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
  const Y = y => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
  for (const t of ticks(y0, y1)) {
    svg.append(el('line', { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), class: 'chart-grid' }));
    svg.append(el('text', { x: m.l - 4, y: Y(t) + 4, 'text-anchor': 'end', class: 'chart-tick' }, fmt(t)));
  }
  for (const t of ticks(x0, x1, 5)) {
    svg.append(el('text', { x: X(t), y: H - 6, 'text-anchor': 'middle', class: 'chart-tick' }, fmt(t)));
  }
  svg.append(el('line', { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: 'chart-axis' }));
  svg.append(el('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'chart-axis' }));
  const d = points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join(' ');
  svg.append(el('path', { d, class: 'chart-line', stroke: opts.color || 'currentColor', 'vector-effect': 'non-scaling-stroke' }));
  const last = points[points.length - 1];
  svg.append(el('circle', { cx: X(last[0]), cy: Y(last[1]), r: 3, class: 'chart-dot', fill: opts.color || 'currentColor' }));
  svg.dataset.points = all.length;
  svg.setAttribute('aria-label',
    `${label}: ${all.length} points, ${opts.xLabel || 'x'} ${fmt(x0)} to ${fmt(last[0])}, last ${fmt(last[1])}`);
}
