// Argument checks for the public API: TypeError / RangeError that name the argument.

export type Pair = readonly [string, string] | { readonly query: string; readonly document: string };

export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new RangeError(`${name} is an empty string`);
  return value;
}

export function checkPairs(pairs: unknown, name = 'pairs'): Array<[string, string]> {
  if (!Array.isArray(pairs)) throw new TypeError(`${name} must be an array of [query, document] pairs, got ${describe(pairs)}`);
  return pairs.map((pair, i) => {
    if (Array.isArray(pair)) {
      if (pair.length !== 2) throw new TypeError(`${name}[${i}] must be [query, document], got an array of ${pair.length}`);
      return [checkString(pair[0], `${name}[${i}][0]`), checkString(pair[1], `${name}[${i}][1]`)];
    }
    if (typeof pair === 'object' && pair !== null) {
      const { query, document } = pair as { query?: unknown; document?: unknown };
      return [checkString(query, `${name}[${i}].query`), checkString(document, `${name}[${i}].document`)];
    }
    throw new TypeError(`${name}[${i}] must be [query, document] or {query, document}, got ${describe(pair)}`);
  });
}

export function checkPositiveInt(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  if (value < 1 || value > max) {
    throw new RangeError(max === Number.MAX_SAFE_INTEGER ? `${name} must be a positive integer, got ${value}` : `${name} must be between 1 and ${max}, got ${value}`);
  }
  return value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
