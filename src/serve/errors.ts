// Errors of the rerank server. Every failure answers with the same JSON shape, `{"error": message, "type": type}`,
// whatever raised it (validation, auth, body parser, queue, deadline, router, the HTTP parser itself).

/** The stable `type` values of error bodies. */
export type ErrorType =
  | 'invalid_request'        // 400: a field is missing, empty, of the wrong type, or out of range
  | 'invalid_json'           // 400: the body is not JSON, not UTF-8, or nested too deep
  | 'bad_request'            // 400: the HTTP request itself is malformed
  | 'unauthorized'           // 401: missing or wrong API key
  | 'not_found'              // 404: no such route
  | 'method_not_allowed'     // 405: the route exists with another method (see Allow)
  | 'payload_too_large'      // 413: the body is over the size limit
  | 'unsupported_media_type' // 415: the body is not application/json
  | 'input_too_long'         // 422: a pair is over max_length and the client turned truncation off
  | 'overloaded'             // 429: the queue is full, or 503: too many connections; see Retry-After
  | 'header_too_large'       // 431: the request headers are too large
  | 'request_timeout'        // 408: the request (headers or body) did not arrive in time
  | 'expectation_failed'     // 417: an Expect header other than 100-continue
  | 'timeout'                // 503: the request's deadline passed before it was scored
  | 'shutting_down'          // 503: the server is stopping
  | 'internal_error';        // 500: a bug; the message is generic

export interface ErrorBody {
  error: string;
  type: ErrorType;
}

/** An error that maps to one HTTP status and error body. */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly statusCode: number,
    readonly type: ErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { error: this.message, type: this.type };
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'invalid_request', message);

/** A raw HTTP/1.1 response with an error body, for sockets the HTTP parser gave up on. */
export function rawErrorResponse(status: number, reason: string, type: ErrorType, message: string, headers: Record<string, string> = {}): string {
  const body = JSON.stringify({ error: message, type } satisfies ErrorBody);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
