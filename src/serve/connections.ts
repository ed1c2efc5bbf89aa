// The server's connections: a cap on how many are open, so that the process never runs out of file descriptors.
// At the cap a new connection takes the place of the oldest one that is not being answered (idle keep-alive, or
// still sending its request: what slow clients hold), so stalled clients cannot lock others out; only when every
// open connection has a request being scored does a new one get a fast 503. And shutdown that never waits on a client: idle
// keep-alive connections and slow headers are closed at once, a body that stops arriving within a second (a body
// still coming in goes on to be answered); connections whose request is being scored get until the drain
// deadline. And a bound on the body bytes held.
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { HttpError, rawErrorResponse } from './errors';

/** At shutdown, a request body with no byte for this long is stalled: its connection is closed. */
const STALL_MS = 1000;

export class ConnectionGuard {
  private readonly open = new Set<Socket>();
  /** Requests past body parsing (the handler runs), per connection. */
  private readonly handling = new Map<Socket, number>();
  /** Connections whose request's headers are in and whose body is still arriving. */
  private readonly arriving = new Set<Socket>();
  private closing = false;

  constructor(server: Server, private readonly maxConnections: number) {
    // Our listener decides first; the HTTP server's own listeners only see the connections admitted.
    const listeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.closing && this.open.size >= this.maxConnections) this.evictOldestWaiting();
      if (this.closing || this.open.size >= this.maxConnections) {
        const message = this.closing
          ? 'the server is shutting down'
          : `the server has ${this.open.size} connections open, at most ${this.maxConnections} (max_connections): retry later`;
        socket.on('error', () => undefined);
        socket.end(rawErrorResponse(503, 'Service Unavailable', this.closing ? 'shutting_down' : 'overloaded', message, { 'Retry-After': '1' }));
        socket.destroySoon?.();
        return;
      }
      this.open.add(socket);
      socket.once('close', () => {
        this.open.delete(socket);
        this.handling.delete(socket);
        this.arriving.delete(socket);
      });
      for (const listener of listeners) listener.call(server, socket);
    });
  }

  /** Evictions so far: connections closed at the cap to make room. */
  evicted = 0;

  private evictOldestWaiting(): void {
    for (const socket of this.open) {   // insertion order, refreshed on each answer: longest without one first
      if (this.handling.has(socket)) continue;
      this.open.delete(socket);
      this.handling.delete(socket);
      socket.destroy();
      this.evicted++;
      return;
    }
  }

  get size(): number {
    return this.open.size;
  }

  /** A request's headers are in; its body may still be arriving. */
  received(socket: Socket): void {
    this.arriving.add(socket);
  }

  /** A request's handler started (its body is in): shutdown lets it finish. */
  started(socket: Socket): void {
    this.arriving.delete(socket);
    this.handling.set(socket, (this.handling.get(socket) ?? 0) + 1);
  }

  /** A request was answered (or aborted); `handled`: its handler had started. */
  finished(socket: Socket, handled: boolean): void {
    this.arriving.delete(socket);
    // Answered: it moves to the back of the eviction order (a client that just got an answer is not stalling).
    if (this.open.delete(socket)) this.open.add(socket);
    if (!handled) return;
    const n = (this.handling.get(socket) ?? 1) - 1;
    if (n > 0) this.handling.set(socket, n);
    else this.handling.delete(socket);
  }

  /**
   * Refuses new connections and closes, at once, every connection with no request in it (idle keep-alive, slow
   * headers). A connection whose body is still arriving is closed once no byte has come for STALL_MS (a stalled
   * body), and kept when its request reaches the handler: then it is in flight, and drains.
   */
  closeIdle(): void {
    this.closing = true;
    const watched = new Map<Socket, { bytes: number; since: number }>();
    for (const socket of this.open) {
      if (this.handling.has(socket)) continue;
      if (this.arriving.has(socket)) watched.set(socket, { bytes: socket.bytesRead, since: Date.now() });
      else socket.destroy();
    }
    if (watched.size === 0) return;
    const timer = setInterval(() => {
      const now = Date.now();
      for (const [socket, seen] of watched) {
        if (!this.arriving.has(socket) || socket.destroyed) watched.delete(socket);
        else if (socket.bytesRead !== seen.bytes) watched.set(socket, { bytes: socket.bytesRead, since: now });
        else if (now - seen.since >= STALL_MS) {
          watched.delete(socket);
          socket.destroy();
        }
      }
      if (watched.size === 0) clearInterval(timer);
    }, STALL_MS / 4);
    timer.unref();
  }

  /** The drain deadline passed: closes everything. */
  closeAll(): void {
    this.closing = true;
    for (const socket of this.open) socket.destroy();
  }
}

/**
 * Request body bytes held at once, all requests together: a request's Content-Length (or the body limit, when
 * the body comes chunked) is reserved from its headers to its response, and past the bound it is answered 429
 * before its body is read.
 */
export class BodyBudget {
  private held = 0;
  private readonly sizes = new WeakMap<object, number>();

  constructor(private readonly maxBytes: number, private readonly bodyLimit: number) {}

  reserve(request: { raw: IncomingMessage }): void {
    const headers = request.raw.headers;
    const length = headers['content-length'] !== undefined ? Number(headers['content-length'])
      : headers['transfer-encoding'] !== undefined ? this.bodyLimit : 0;
    // A declared length over the body limit is fastify's 413; only what could be read counts here.
    const size = Number.isFinite(length) ? Math.min(Math.max(length, 0), this.bodyLimit) : this.bodyLimit;
    if (size === 0) return;
    if (this.held + size > this.maxBytes) {
      throw new HttpError(429, 'overloaded',
        `the server holds ${this.held} bytes of request bodies, at most ${this.maxBytes} (max_buffered_bytes): retry after 1 s`, { 'Retry-After': '1' });
    }
    this.held += size;
    this.sizes.set(request, size);
  }

  release(request: object): void {
    const size = this.sizes.get(request);
    if (size === undefined) return;
    this.sizes.delete(request);
    this.held -= size;
  }

  get bytes(): number {
    return this.held;
  }
}
