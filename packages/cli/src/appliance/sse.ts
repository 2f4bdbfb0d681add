/**
 * Server-sent events (text/event-stream): an incremental parser, and a follower that reconnects with
 * Last-Event-ID after a dropped connection (with backoff) until aborted.
 */
import type { ApplianceClient } from './client.js';
import { sleep } from './client.js';
import { ApplianceError } from './errors.js';

export interface ServerEvent {
  id?: string;
  event: string;
  data: string;
}

/** Feed it text as it arrives; it returns the events completed by that text. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  /** The last `id` field seen (kept across events, as EventSource does). */
  lastEventId: string | undefined;
  /** The server's `retry` advice, in milliseconds. */
  retryMs: number | undefined;

  push(text: string): ServerEvent[] {
    this.buffer += text;
    const out: ServerEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const event = this.line(line);
      if (event) out.push(event);
    }
    return out;
  }

  private line(line: string): ServerEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const event: ServerEvent = {
        event: this.event || 'message',
        data: this.data.join('\n'),
        ...(this.id !== undefined && { id: this.id }),
      };
      this.data = [];
      this.event = '';
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }
}

export interface FollowOptions {
  signal: AbortSignal;
  onEvent: (event: ServerEvent) => void;
  /** Told when the connection dropped and when the next attempt is. */
  onReconnect?: (delayMs: number, reason: string) => void;
  lastEventId?: string;
  /** Reconnect when nothing arrived for this long (milliseconds; default two minutes). */
  idleTimeoutMs?: number;
  /** Backoff bounds (milliseconds). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Reads the event stream until `signal` aborts, reconnecting with Last-Event-ID after a dropped connection or an
 * unreachable appliance; refusals (401, 403, 404, ...) end it with their error.
 */
export async function followEvents(client: ApplianceClient, path: string, o: FollowOptions): Promise<void> {
  const min = o.minDelayMs ?? 500;
  const max = o.maxDelayMs ?? 30_000;
  let lastEventId = o.lastEventId;
  let delay = min;
  while (!o.signal.aborted) {
    const parser = new SseParser();
    let received = false;
    let reason = 'the connection closed';
    try {
      const res = await client.openStream(
        path,
        lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
        o.signal,
      );
      res.setEncoding('utf8');
      // A connection that went silent (no heartbeat comment, no event) for this long is presumed dead.
      res.setTimeout(o.idleTimeoutMs ?? 120_000, () =>
        res.destroy(Object.assign(new Error('no data for too long'), { code: 'ETIMEDOUT' })),
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          res.destroy();
          resolve();
        };
        o.signal.addEventListener('abort', stop, { once: true });
        res.on('data', (text: string) => {
          for (const event of parser.push(text)) {
            received = true;
            if (event.id !== undefined) lastEventId = event.id;
            o.onEvent(event);
          }
          if (parser.lastEventId !== undefined) lastEventId = parser.lastEventId;
        });
        const done = (err?: Error) => {
          o.signal.removeEventListener('abort', stop);
          if (err) reason = (err as NodeJS.ErrnoException).code ?? err.message;
          resolve();
        };
        res.once('end', () => done());
        res.once('error', (err) => done(err));
        res.once('close', () => done());
      });
    } catch (err) {
      if (o.signal.aborted) return;
      const transient =
        err instanceof ApplianceError &&
        (err.code === 'UNREACHABLE' || err.code === 'TIMEOUT' || (err.status ?? 0) >= 500);
      if (!transient) throw err;
      reason = err.message;
    }
    if (o.signal.aborted) return;
    if (received) delay = min;
    const wait = parser.retryMs !== undefined ? Math.max(parser.retryMs, delay) : delay;
    o.onReconnect?.(wait, reason);
    await sleep(wait, o.signal);
    delay = Math.min(max, delay * 2);
  }
}
