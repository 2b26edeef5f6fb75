/**
 * Samples memory every 100 ms during the pipeline run (and whenever the run reports progress, since the
 * timer cannot fire while the main thread is inside an insert), keeping the highest sample's breakdown.
 */
export class MemorySampler {
  private peak: NodeJS.MemoryUsage | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), 100);
  }

  sample(): void {
    const usage = process.memoryUsage();
    if (!this.peak || usage.rss > this.peak.rss) this.peak = usage;
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
}
