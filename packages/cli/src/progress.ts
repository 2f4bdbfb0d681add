import type { Progress } from '@lifeboat/repository';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.round(s % 60)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal (bytes, rate, ETA); on a pipe or a log, one quiet line
 * every 10 seconds and one at the end.
 */
export class TerminalProgress implements Progress {
  private label = '';
  private total = 0;
  private done_ = 0;
  private started = 0;
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  start(label: string, totalBytes: number): void {
    this.label = label;
    this.total = totalBytes;
    this.done_ = 0;
    this.started = Date.now();
    this.lastDraw = this.tty ? 0 : this.started;
  }

  advance(bytes: number): void {
    this.done_ += bytes;
    const now = Date.now();
    if (now - this.lastDraw >= (this.tty ? 100 : 10_000)) {
      this.lastDraw = now;
      this.draw(false);
    }
  }

  done(): void {
    this.draw(true);
  }

  private draw(final: boolean): void {
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000);
    const rate = this.done_ / secs;
    const pct = this.total > 0 ? Math.min(100, (100 * this.done_) / this.total) : 100;
    const eta = rate > 0 ? (this.total - this.done_) / rate : Number.POSITIVE_INFINITY;
    const text = `${this.label}: ${formatBytes(this.done_)} / ${formatBytes(this.total)} ${pct.toFixed(0)}%  ${(rate / 1e6).toFixed(0)} MB/s${final ? `  in ${formatDuration(secs)}` : `  ETA ${formatDuration(eta)}`}`;
    if (!this.tty) {
      this.stream.write(`${text}\n`);
      return;
    }
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    this.stream.write(
      `\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}${final ? '\n' : ''}`,
    );
  }
}

export const silentProgress: Progress = { start() {}, advance() {}, done() {} };
