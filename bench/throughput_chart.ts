/**
 * The benchmark's chart as hand-written SVG (no dependency): throughput
 * against the number of agencies, and against the frame size.
 */

/** One plotted point. */
export interface ChartPoint {
  x: number;
  /** Bets per second. */
  y: number;
  label: string;
}

/** A set of points drawn alike. */
export interface ChartSeries {
  name: string;
  color: string;
  points: ChartPoint[];
  /** Join the points with a line (in x order). */
  line: boolean;
}

/** What the chart shows. */
export interface ThroughputChart {
  title: string;
  /** Throughput per scenario against its agencies (log scale). */
  byAgencies: ChartSeries[];
  /** Throughput against bets per frame (batch.maxAmount). */
  byFrame: ChartSeries[];
}

const _WIDTH = 960;
const _HEIGHT = 420;
const _PANEL_WIDTH = 400;
const _PANEL_HEIGHT = 280;
const _PANEL_TOP = 70;
const _PANELS_LEFT = [80, 540] as const;
const _Y_TICKS = 5;

function _escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** A round number at or above `value` (1, 2 or 5 times a power of ten). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function _shortNumber(value: number): string {
  if (value >= 1_000_000) return `${+(value / 1_000_000).toFixed(2)}M`;
  if (value >= 1_000) return `${+(value / 1_000).toFixed(1)}k`;
  return String(+value.toFixed(1));
}

interface _Axis {
  title: string;
  xLabel: string;
  xTicks: { value: number; label: string }[];
  /** Maps an x value to 0..1 across the panel. */
  xFraction: (value: number) => number;
}

function _panel(left: number, axis: _Axis, series: ChartSeries[]): string {
  const points = series.flatMap((entry) => entry.points);
  const parts: string[] = [
    `<text x="${left + _PANEL_WIDTH / 2}" y="${
      _PANEL_TOP - 16
    }" text-anchor="middle" font-weight="bold">${_escape(axis.title)}</text>`,
  ];
  const bottom = _PANEL_TOP + _PANEL_HEIGHT;
  if (points.length === 0) {
    parts.push(
      `<text x="${left + _PANEL_WIDTH / 2}" y="${
        _PANEL_TOP + _PANEL_HEIGHT / 2
      }" text-anchor="middle" fill="#888">not measured in this run</text>`,
    );
    return parts.join("\n");
  }
  const yMax = niceCeiling(Math.max(...points.map((point) => point.y)) * 1.1);
  const px = (value: number) => left + axis.xFraction(value) * _PANEL_WIDTH;
  const py = (value: number) => bottom - (value / yMax) * _PANEL_HEIGHT;
  parts.push(
    `<rect x="${left}" y="${_PANEL_TOP}" width="${_PANEL_WIDTH}" height="${_PANEL_HEIGHT}" fill="none" stroke="#444"/>`,
  );
  for (let tick = 0; tick <= _Y_TICKS; tick += 1) {
    const value = (yMax * tick) / _Y_TICKS;
    const y = py(value).toFixed(1);
    parts.push(
      `<line x1="${left}" y1="${y}" x2="${left + _PANEL_WIDTH}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${
        _shortNumber(value)
      }</text>`,
    );
  }
  for (const tick of axis.xTicks) {
    parts.push(
      `<text x="${px(tick.value).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${
        _escape(tick.label)
      }</text>`,
    );
  }
  parts.push(
    `<text x="${left + _PANEL_WIDTH / 2}" y="${bottom + 40}" text-anchor="middle">${
      _escape(axis.xLabel)
    }</text>`,
    `<text transform="translate(${left - 56} ${
      _PANEL_TOP + _PANEL_HEIGHT / 2
    }) rotate(-90)" text-anchor="middle">bets/s</text>`,
  );
  for (const [index, entry] of series.entries()) {
    // Labels of the first series above its points, of the others below.
    const labelDy = index === 0 ? -8 : 18;
    const sorted = [...entry.points].sort((one, other) => one.x - other.x);
    if (entry.line && sorted.length > 1) {
      const path = sorted.map((point) => `${px(point.x).toFixed(1)},${py(point.y).toFixed(1)}`);
      parts.push(
        `<polyline points="${
          path.join(" ")
        }" fill="none" stroke="${entry.color}" stroke-width="2"/>`,
      );
    }
    for (const point of sorted) {
      const x = px(point.x).toFixed(1);
      const y = py(point.y).toFixed(1);
      parts.push(
        `<circle cx="${x}" cy="${y}" r="4" fill="${entry.color}"><title>${
          _escape(`${entry.name} ${point.label}: ${Math.round(point.y)} bets/s`)
        }</title></circle>`,
        `<text x="${x}" y="${
          (Number(y) + labelDy).toFixed(1)
        }" text-anchor="middle" fill="${entry.color}">${_escape(point.label)}</text>`,
      );
    }
  }
  return parts.join("\n");
}

function _legend(series: ChartSeries[]): string {
  const names = [...new Map(series.map((entry) => [entry.name, entry.color])).entries()];
  return names.map(([name, color], index) => {
    const x = _PANELS_LEFT[0] + index * 260;
    const y = _HEIGHT - 14;
    return `<circle cx="${x}" cy="${y - 4}" r="5" fill="${color}"/>` +
      `<text x="${x + 10}" y="${y}">${_escape(name)}</text>`;
  }).join("\n");
}

/** Renders the chart as a standalone SVG document. */
export function renderThroughputSvg(chart: ThroughputChart): string {
  const agencies = chart.byAgencies.flatMap((entry) => entry.points.map((point) => point.x));
  const logMax = Math.max(1, Math.ceil(Math.log10(Math.max(1, ...agencies)) + 0.3));
  const agencyTicks = Array.from({ length: logMax + 1 }, (_, power) => ({
    value: 10 ** power,
    label: _shortNumber(10 ** power),
  }));
  const frames = chart.byFrame.flatMap((entry) => entry.points.map((point) => point.x));
  const frameMax = niceCeiling(Math.max(1, ...frames) * 1.1);
  const frameTicks = Array.from({ length: 5 }, (_, index) => {
    const value = (frameMax * index) / 4;
    return { value, label: _shortNumber(value) };
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${_WIDTH}" height="${_HEIGHT}" viewBox="0 0 ${_WIDTH} ${_HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${_WIDTH}" height="${_HEIGHT}" fill="white"/>`,
    `<text x="${_WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${
      _escape(chart.title)
    }</text>`,
    _panel(_PANELS_LEFT[0], {
      title: "Throughput against agencies",
      xLabel: "agencies (log scale)",
      xTicks: agencyTicks,
      xFraction: (value) => Math.log10(Math.max(1, value)) / logMax,
    }, chart.byAgencies),
    _panel(_PANELS_LEFT[1], {
      title: "Throughput against frame size",
      xLabel: "bets per frame (batch.maxAmount)",
      xTicks: frameTicks,
      xFraction: (value) => value / frameMax,
    }, chart.byFrame),
    _legend([...chart.byAgencies, ...chart.byFrame]),
    "</svg>",
    "",
  ].join("\n");
}
