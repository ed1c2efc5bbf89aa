// The server tests' common set-up: a server on an ephemeral port over an already loaded model, closed after.
import type { Reranker } from '../src/model';
import { startServer, type RerankServer, type ServeOptions } from '../src/serve/server';

export async function withServer(
  model: Reranker, options: Partial<ServeOptions>, fn: (server: RerankServer, port: number) => Promise<void>,
): Promise<void> {
  const server = await startServer({ model, host: '127.0.0.1', port: 0, ...options });
  try {
    await fn(server, Number(new URL(server.url!).port));
  } finally {
    await server.close();
  }
}
