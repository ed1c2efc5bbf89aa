"use strict";
// Argument checks for the public API: TypeError / RangeError that name the argument.
Object.defineProperty(exports, "__esModule", { value: true });
exports.checkString = checkString;
exports.checkPairs = checkPairs;
exports.checkPositiveInt = checkPositiveInt;
exports.checkOneOf = checkOneOf;
exports.describe = describe;
function checkString(value, name) {
    if (typeof value !== 'string')
        throw new TypeError(`${name} must be a string, got ${describe(value)}`);
    if (value.length === 0)
        throw new RangeError(`${name} is an empty string`);
    return value;
}
function checkPairs(pairs, name = 'pairs') {
    if (!Array.isArray(pairs))
        throw new TypeError(`${name} must be an array of [query, document] pairs, got ${describe(pairs)}`);
    return pairs.map((pair, i) => {
        if (Array.isArray(pair)) {
            if (pair.length !== 2)
                throw new TypeError(`${name}[${i}] must be [query, document], got an array of ${pair.length}`);
            return [checkString(pair[0], `${name}[${i}][0]`), checkString(pair[1], `${name}[${i}][1]`)];
        }
        if (typeof pair === 'object' && pair !== null) {
            const { query, document } = pair;
            return [checkString(query, `${name}[${i}].query`), checkString(document, `${name}[${i}].document`)];
        }
        throw new TypeError(`${name}[${i}] must be [query, document] or {query, document}, got ${describe(pair)}`);
    });
}
function checkPositiveInt(value, name, max = Number.MAX_SAFE_INTEGER) {
    if (typeof value !== 'number' || !Number.isInteger(value))
        throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
    if (value < 1 || value > max) {
        throw new RangeError(max === Number.MAX_SAFE_INTEGER ? `${name} must be a positive integer, got ${value}` : `${name} must be between 1 and ${max}, got ${value}`);
    }
    return value;
}
function checkOneOf(value, name, allowed) {
    if (typeof value !== 'string' || !allowed.includes(value)) {
        throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
    }
    return value;
}
function describe(value) {
    if (value === null)
        return 'null';
    if (value === undefined)
        return 'undefined';
    if (Array.isArray(value))
        return 'an array';
    if (typeof value === 'string')
        return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
    return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
