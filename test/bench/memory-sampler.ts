/**
 * Samples memory every 100 ms during the pipeline run (fewer while the main thread is busy in an insert):
 * the highest sample's breakdown, and RSS against the texts embedded so far.
 */
export class MemorySampler {
  private readonly samples: { texts: number; rss: number }[] = [];
  private peak: NodeJS.MemoryUsage | null = null;
  private texts = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), 100);
  }

  progress(textsEmbedded: number): void {
    this.texts = textsEmbedded;
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  atPeak(): Record<string, number> | null {
    const p = this.peak;
    if (!p) return null;
    const mb = (n: number) => Math.round(n / 2 ** 20);
    return { rss: mb(p.rss), heap_total: mb(p.heapTotal), heap_used: mb(p.heapUsed), external: mb(p.external), array_buffers: mb(p.arrayBuffers) };
  }

  /**
   * What one more text costs: the least-squares slope of RSS against texts embedded over the second half
   * of the run, when the worker, grammars and heaps have reached their size and only the index grows.
   */
  marginalBytesPerText(): number | null {
    const last = this.samples.at(-1);
    if (!last || last.texts < 1000) return null;
    const tail = this.samples.filter((s) => s.texts >= last.texts / 2);
    const n = tail.length;
    const mx = tail.reduce((a, s) => a + s.texts, 0) / n;
    const my = tail.reduce((a, s) => a + s.rss, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (const s of tail) {
      sxy += (s.texts - mx) * (s.rss - my);
      sxx += (s.texts - mx) ** 2;
    }
    return sxx > 0 ? Math.round(sxy / sxx) : null;
  }

  private sample(): void {
    const usage = process.memoryUsage();
    if (!this.peak || usage.rss > this.peak.rss) this.peak = usage;
    this.samples.push({ texts: this.texts, rss: usage.rss });
  }
}
