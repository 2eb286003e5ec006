// A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws, naming
// the line, on anything a Prometheus server or node_exporter's textfile collector would reject
// or that breaks the format's rules (bad names, label escaping, values, TYPE after samples,
// families split apart, duplicate series, histogram buckets out of order or not matching _count).

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Parsed {
  types: Map<string, MetricType>;
  samples: Sample[];
  /** The value of one series; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every series of `name` (whatever its labels). */
  sum(name: string): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function parseLabels(body: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = body.slice(i, eq).trim();
    if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`);
    if (body[eq + 1] !== '"') throw new Error(`${where}: label value of ${name} not quoted`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      const c = body[j];
      if (c === undefined) throw new Error(`${where}: unterminated label value of ${name}`);
      if (c === '"') break;
      if (c === '\n') throw new Error(`${where}: raw newline in label value`);
      if (c === '\\') {
        const n = body[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${n ?? ''} in label value`);
        j += 2;
        continue;
      }
      value += c;
      j += 1;
    }
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    labels[name] = value;
    j += 1;
    if (body[j] === ',') j += 1;
    else if (j < body.length) throw new Error(`${where}: expected ',' after label ${name}`);
    i = j;
  }
  return labels;
}

/** The family a sample belongs to (histogram/summary samples carry suffixes). */
function familyOf(name: string, types: Map<string, MetricType>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return name;
}

export function parsePrometheusText(text: string): Parsed {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text must end with a newline');
  const types = new Map<string, MetricType>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) throw new Error(`${where}: bad metric name ${name}`);
      if (kind === 'HELP') {
        if (helps.has(name!)) throw new Error(`${where}: second HELP for ${name}`);
        helps.add(name!);
      } else {
        if (types.has(name!)) throw new Error(`${where}: second TYPE for ${name}`);
        if (samples.some((s) => familyOf(s.name, types) === name)) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest ?? '')) throw new Error(`${where}: bad TYPE ${rest}`);
        types.set(name!, rest as MetricType);
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const labels = parseLabels(labelText ?? '', where);
    const value = parseValue(valueText!, where);
    const family = familyOf(name!, types);
    if (family !== current) {
      if (closed.has(family)) throw new Error(`${where}: samples of ${family} are not together`);
      if (current) closed.add(current);
      current = family;
    }
    const type = types.get(family) ?? 'untyped';
    if (type === 'counter' && (Number.isNaN(value) || value < 0)) throw new Error(`${where}: counter ${name} is ${valueText}`);
    if (type === 'histogram' && name === `${family}_bucket` && labels.le === undefined) throw new Error(`${where}: bucket without le`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    seenSeries.add(key);
    samples.push({ name: name!, labels, value });
  });
  // Histograms: buckets cumulative, +Inf present and equal to _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le: _le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    for (const [k, buckets] of groups) {
      const sorted = [...buckets].sort((a, b) => parseValue(a.labels.le!, family) - parseValue(b.labels.le!, family));
      for (let i = 1; i < sorted.length; i++) if (sorted[i]!.value < sorted[i - 1]!.value) throw new Error(`${family}${k}: buckets not cumulative`);
      const inf = sorted.at(-1);
      if (inf?.labels.le !== '+Inf') throw new Error(`${family}${k}: no +Inf bucket`);
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k);
      if (!count || count.value !== inf.value) throw new Error(`${family}${k}: _count does not match the +Inf bucket`);
    }
  }
  const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  return {
    types,
    samples,
    value: (name, labels = {}) => samples.find((s) => s.name === name && same(s.labels, labels))?.value,
    sum: (name) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0),
  };
}
