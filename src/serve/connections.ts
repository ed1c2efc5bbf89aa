// The server's connections: a cap on how many are open, so that the process never runs out of file descriptors.
// At the cap a new connection takes the place of the oldest one that is not being answered (idle keep-alive, or
// still sending its request: what slow clients hold), so stalled clients cannot lock others out; only when every
// open connection has a request being scored does a new one get a fast 503. And shutdown that never waits on a client: idle
// keep-alive connections and connections still sending a request (slow headers, a stalled body) are closed at once;
// connections whose request is being scored get until the drain deadline.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { rawErrorResponse } from './errors';

export class ConnectionGuard {
  private readonly open = new Set<Socket>();
  /** Requests past body parsing (the handler runs), per connection. */
  private readonly handling = new Map<Socket, number>();
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

  /** A request's handler started (its body is in): shutdown lets it finish. */
  started(socket: Socket): void {
    this.handling.set(socket, (this.handling.get(socket) ?? 0) + 1);
  }

  finished(socket: Socket): void {
    // Answered: it moves to the back of the eviction order (a client that just got an answer is not stalling).
    if (this.open.delete(socket)) this.open.add(socket);
    const n = (this.handling.get(socket) ?? 1) - 1;
    if (n > 0) this.handling.set(socket, n);
    else this.handling.delete(socket);
  }

  /** Refuses new connections and closes every connection with no request being handled. */
  closeIdle(): void {
    this.closing = true;
    for (const socket of this.open) if (!this.handling.has(socket)) socket.destroy();
  }

  /** The drain deadline passed: closes everything. */
  closeAll(): void {
    this.closing = true;
    for (const socket of this.open) socket.destroy();
  }
}
