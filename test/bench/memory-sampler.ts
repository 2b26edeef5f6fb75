/**
 * Samples memory every 100 ms during the pipeline run (fewer while the main thread is busy in an insert),
 * keeping the running peak RSS against the texts embedded so far.
 */
export class MemorySampler {
  private readonly samples: { texts: number; peakRss: number }[] = [];
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
    this.sample();
  }

  atPeak(): Record<string, number> | null {
    const p = this.peak;
    if (!p) return null;
    const mb = (n: number) => Math.round(n / 2 ** 20);
    return { rss: mb(p.rss), heap_total: mb(p.heapTotal), heap_used: mb(p.heapUsed), external: mb(p.external), array_buffers: mb(p.arrayBuffers) };
  }

  /** (peak RSS at the end - peak RSS when half the texts were in) / texts added since. */
  marginalBytesPerText(): number | null {
    const last = this.samples.at(-1);
    if (!last || last.texts < 1000) return null;
    const half = this.samples.find((s) => s.texts >= last.texts / 2);
    if (!half || half.texts === last.texts) return null;
    return Math.round((last.peakRss - half.peakRss) / (last.texts - half.texts));
  }

  private sample(): void {
    const usage = process.memoryUsage();
    if (!this.peak || usage.rss > this.peak.rss) this.peak = usage;
    this.samples.push({ texts: this.texts, peakRss: this.peak.rss });
  }
}
