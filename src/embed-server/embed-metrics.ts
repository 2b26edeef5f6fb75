/**
 * The embedding server's Prometheus metrics, in the text exposition format (version 0.0.4). A few
 * counters, gauges and histograms are all it needs, so they are written here rather than pulled in.
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(amount = 1, labels: Labels = {}): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + amount);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines.join('\n');
  }
}

/** A gauge read when scraped, so it is never stale. */
export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(bound) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export interface EmbedMetricsSources {
  queuedTexts: () => number;
  queuedRequests: () => number;
  inFlightRequests: () => number;
  inFlightBodyBytes?: () => number;
}

/** Every metric the embedding server exposes on GET /metrics. */
export class EmbedMetrics {
  readonly requests = new Counter('codecarto_embed_requests_total', 'HTTP requests answered, by route and status code.');
  readonly clientAborts = new Counter(
    'codecarto_embed_client_aborts_total',
    'Requests whose client disconnected before the answer (mid-body or while waiting), by route; not in requests_total.',
  );
  readonly texts = new Counter('codecarto_embed_texts_total', 'Texts embedded.');
  readonly tokens = new Counter('codecarto_embed_tokens_total', 'Real tokens embedded (special tokens and query instructions included, padding excluded).');
  readonly paddedTokens = new Counter('codecarto_embed_padded_tokens_total', 'Tokens the model computed, padding included.');
  readonly truncatedTexts = new Counter('codecarto_embed_truncated_texts_total', "Texts cut to the model's maximum tokens.");
  readonly runs = new Counter('codecarto_embed_model_runs_total', 'Model runs (batches).');
  readonly batchTexts = new Histogram('codecarto_embed_batch_texts', 'Texts per model run.', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  readonly batchRequests = new Histogram('codecarto_embed_batch_requests', 'Requests sharing one model run.', [1, 2, 4, 8, 16, 32, 64]);
  readonly batchPaddedTokens = new Histogram('codecarto_embed_batch_padded_tokens', 'Padded tokens per model run.', [
    256, 1024, 4096, 8192, 16384, 32768, 65536, 131072,
  ]);
  readonly runSeconds = new Histogram('codecarto_embed_model_run_seconds', 'Time of one model run.', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  readonly requestSeconds = new Histogram('codecarto_embed_request_duration_seconds', 'Time from request to answer, by route.', [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
  ]);
  private readonly gauges: Gauge[];

  constructor(sources: EmbedMetricsSources) {
    this.gauges = [
      new Gauge('codecarto_embed_queue_texts', 'Texts waiting for a model run.', sources.queuedTexts),
      new Gauge('codecarto_embed_queue_requests', 'Requests with texts waiting for a model run.', sources.queuedRequests),
      new Gauge('codecarto_embed_in_flight_requests', 'Embedding requests received and not yet answered.', sources.inFlightRequests),
      new Gauge('codecarto_embed_in_flight_body_bytes', 'Bytes of request bodies held by requests not yet answered.', sources.inFlightBodyBytes ?? (() => 0)),
    ];
  }

  render(): string {
    const all: Metric[] = [
      this.requests,
      this.clientAborts,
      this.texts,
      this.tokens,
      this.paddedTokens,
      this.truncatedTexts,
      this.runs,
      this.batchTexts,
      this.batchRequests,
      this.batchPaddedTokens,
      this.runSeconds,
      this.requestSeconds,
      ...this.gauges,
    ];
    return `${all.map((m) => m.render()).join('\n')}\n`;
  }
}
