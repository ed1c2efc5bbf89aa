"use strict";
// A small seeded PRNG whose whole state can be saved in a checkpoint and restored, so a resumed training
// run draws exactly the numbers the uninterrupted run would have drawn.
//
// The generator is xoshiro128** (Blackman & Vigna), 128 bits of state as four uint32 words, seeded from an
// integer with splitmix32. Everything is 32-bit integer arithmetic (Math.imul, >>> 0), so the sequence is
// the same on every platform and Node version.
Object.defineProperty(exports, "__esModule", { value: true });
exports.Rng = void 0;
exports.samplePositions = samplePositions;
const TWO_POW_32 = 0x100000000;
/** splitmix32: a seed-expansion generator (used to fill xoshiro's state from one integer). */
function splitmix32(seed) {
    let a = seed | 0;
    return () => {
        a = (a + 0x9e3779b9) | 0;
        let t = a ^ (a >>> 16);
        t = Math.imul(t, 0x21f0aaad);
        t ^= t >>> 15;
        t = Math.imul(t, 0x735a2d97);
        return (t ^ (t >>> 15)) >>> 0;
    };
}
function rotl(x, k) {
    return (x << k) | (x >>> (32 - k));
}
class Rng {
    s0 = 0;
    s1 = 0;
    s2 = 0;
    s3 = 0;
    /** Seeds from a safe integer (negative and > 2^32 seeds are fine: both 32-bit halves are mixed in). */
    constructor(seed) {
        if (!Number.isSafeInteger(seed))
            throw new RangeError(`Rng: the seed must be a safe integer, got ${seed}`);
        const lo = seed >>> 0; // low 32 bits (two's complement for negative seeds)
        const hi = Math.floor(seed / TWO_POW_32) >>> 0;
        const mix = splitmix32(lo ^ Math.imul(hi, 0x85ebca6b));
        this.s0 = mix();
        this.s1 = mix();
        this.s2 = mix();
        this.s3 = mix();
        if ((this.s0 | this.s1 | this.s2 | this.s3) === 0)
            this.s0 = 1; // xoshiro's one forbidden state
    }
    /** A generator with the given state (as returned by getState). */
    static fromState(state) {
        const rng = new Rng(0);
        rng.setState(state);
        return rng;
    }
    /** The next uint32 (xoshiro128**). */
    nextUint32() {
        const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
        const t = this.s1 << 9;
        this.s2 ^= this.s0;
        this.s3 ^= this.s1;
        this.s1 ^= this.s2;
        this.s0 ^= this.s3;
        this.s2 ^= t;
        this.s3 = rotl(this.s3, 11);
        return result;
    }
    /** A float in [0, 1) with 32 random bits. */
    next() {
        return this.nextUint32() / TWO_POW_32;
    }
    /** A uniform integer in [0, n), without modulo bias; n a positive integer <= 2^32. */
    int(n) {
        if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32)
            throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
        const limit = TWO_POW_32 - (TWO_POW_32 % n); // accept r < limit: a whole number of copies of [0, n)
        for (;;) {
            const r = this.nextUint32();
            if (r < limit)
                return r % n;
        }
    }
    /** Fisher–Yates shuffle in place; returns the array. */
    shuffle(array) {
        for (let i = array.length - 1; i > 0; i--) {
            const j = this.int(i + 1);
            const tmp = array[i];
            array[i] = array[j];
            array[j] = tmp;
        }
        return array;
    }
    /** The state as four uint32 numbers (JSON-serialisable). */
    getState() {
        return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
    }
    /** Restores a state from getState; the generator then continues exactly where that one was. */
    setState(state) {
        if (!Array.isArray(state) || state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v < TWO_POW_32)) {
            throw new TypeError(`Rng.setState: expected 4 uint32 numbers, got ${JSON.stringify(state)}`);
        }
        if (state.every((v) => v === 0))
            throw new TypeError('Rng.setState: the all-zero state is invalid for xoshiro128**');
        this.s0 = state[0] | 0;
        this.s1 = state[1] | 0;
        this.s2 = state[2] | 0;
        this.s3 = state[3] | 0;
    }
    /** An independent copy with the same state. */
    clone() {
        return Rng.fromState(this.getState());
    }
}
exports.Rng = Rng;
/** A seeded uniform sample of n of the positions 0..total-1, in increasing order (all of them when n >= total). */
function samplePositions(total, n, seed) {
    const all = Array.from({ length: total }, (_, i) => i);
    if (n === undefined || n >= total)
        return all;
    return new Rng(seed).shuffle(all).slice(0, n).sort((a, b) => a - b);
}
