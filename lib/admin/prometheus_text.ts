/**
 * Prometheus text exposition, format 0.0.4, written by hand: `# HELP` and
 * `# TYPE` per family, one sample per line, label values escaped, histograms
 * as cumulative `_bucket{le}` plus `_sum` and `_count`.
 */

import type { HistogramSnapshot } from "../runtime/histogram.ts";

/** The Content-Type of the exposition. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Labels of one sample, in the order written. */
export type Labels = Readonly<Record<string, string | number>>;

/** One sample of a counter or gauge family. */
export interface Sample {
  labels?: Labels;
  value: number;
}

const _NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const _LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Formats a sample value: integers as they are, `+Inf`, `-Inf`, `NaN`.
 * @example formatValue(Infinity) // "+Inf"
 */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Escapes a label value: backslash, double quote and line feed.
 * @example escapeLabelValue('a"b') // 'a\\"b'
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function _escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function _labels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return "";
  return `{${
    pairs.map(([name, value]) => {
      if (!_LABEL.test(name) || name.startsWith("__")) {
        throw new TypeError(`Cannot expose label "${name}": not a valid label name`);
      }
      return `${name}="${escapeLabelValue(String(value))}"`;
    }).join(",")
  }}`;
}

/** Builds one exposition, family by family. */
export class ExpositionWriter {
  readonly #lines: string[] = [];
  readonly #names = new Set<string>();

  #family(name: string, type: string, help: string): void {
    if (!_NAME.test(name)) throw new TypeError(`Cannot expose "${name}": not a valid metric name`);
    if (this.#names.has(name)) throw new TypeError(`Cannot expose "${name}" twice`);
    this.#names.add(name);
    this.#lines.push(`# HELP ${name} ${_escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  #samples(name: string, samples: readonly Sample[]): void {
    for (const sample of samples) {
      this.#lines.push(`${name}${_labels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }

  /**
   * A counter family; its name must end in `_total`.
   * @throws {TypeError} on a bad name, a repeated family or a bad label name
   */
  counter(name: string, help: string, samples: readonly Sample[]): this {
    if (!name.endsWith("_total")) {
      throw new TypeError(`Cannot expose counter "${name}": its name must end in _total`);
    }
    this.#family(name, "counter", help);
    this.#samples(name, samples);
    return this;
  }

  /**
   * A gauge family.
   * @throws {TypeError} on a bad name, a repeated family or a bad label name
   */
  gauge(name: string, help: string, samples: readonly Sample[]): this {
    this.#family(name, "gauge", help);
    this.#samples(name, samples);
    return this;
  }

  /**
   * A histogram family: one `_bucket` per bound plus `le="+Inf"`, `_sum`, `_count`.
   * @throws {TypeError} on a bad name, a repeated family or a bad label name
   */
  histogram(
    name: string,
    help: string,
    series: readonly { labels?: Labels; snapshot: HistogramSnapshot }[],
  ): this {
    this.#family(name, "histogram", help);
    for (const { labels = {}, snapshot } of series) {
      snapshot.bounds.forEach((bound, index) => {
        this.#lines.push(
          `${name}_bucket${_labels({ ...labels, le: formatValue(bound) })} ${
            snapshot.cumulative[index]
          }`,
        );
      });
      this.#lines.push(`${name}_bucket${_labels({ ...labels, le: "+Inf" })} ${snapshot.count}`);
      this.#lines.push(`${name}_sum${_labels(labels)} ${formatValue(snapshot.sum)}`);
      this.#lines.push(`${name}_count${_labels(labels)} ${snapshot.count}`);
    }
    return this;
  }

  /** The exposition text, ending in a line feed. */
  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}
