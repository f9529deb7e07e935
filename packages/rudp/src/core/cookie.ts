/**
 * Stateless handshake cookies. A server answers a token-less INITIAL with a
 * RETRY carrying a token that only it can mint for that client address and
 * connection id; the client echoes it, proving it receives at that address,
 * and only then does the server keep any state (like TCP SYN cookies and
 * QUIC Retry). The MAC is HalfSipHash-2-4 run twice with independent keys
 * (a 64-bit tag under a 128-bit key): pure integer code, so the core needs
 * no crypto module, and forging a tag takes ~2^64 guesses.
 */
import type { RandomSource } from './sans-io.js';
import { halfSipHash24 } from './half-siphash.js';

/** Bytes in a cookie token: issue time (u32 seconds) + 64-bit tag. */
export const COOKIE_SIZE = 12;
/** A cookie verifies up to this long past its lifetime: its issue time is in whole seconds. */
export const COOKIE_CLOCK_SLACK_MS = 1000;

const encoder = new TextEncoder();

/**
 * The cookie key is replaced every this many ms at least (QUIC servers rotate
 * their Retry token keys likewise), or every lifetime if that is longer: a
 * key read out of the server's memory stops minting cookies two rotations
 * later, not at the next restart.
 */
export const COOKIE_KEY_ROTATION_MS = 120_000;

type CookieKey = readonly [number, number, number, number];

/**
 * Mints and checks cookies under a key that rotates on the endpoint's clock:
 * time is cut into periods of `rotationMs` (`COOKIE_KEY_ROTATION_MS`, or the
 * lifetime and its slack if longer), each with a key drawn from the
 * endpoint's random source when first needed. A cookie is checked under the
 * key of the period of its issue time, which must be the current one or the
 * one before: a valid cookie is never older than one period, so the token
 * stays 12 bytes with no key id, and a cookie tagged under any other key
 * (two rotations old, or a leaked one with a fresh time) is refused.
 */
export class CookieJar {
  /** Length of a key's period, ms. */
  readonly rotationMs: number;
  private period = 0;
  private key: CookieKey;
  private previous: CookieKey | undefined;

  constructor(
    private readonly random: RandomSource,
    /** How long a cookie stays valid, in ms. */
    readonly lifetimeMs = 30_000,
  ) {
    this.rotationMs = Math.max(COOKIE_KEY_ROTATION_MS, lifetimeMs + COOKIE_CLOCK_SLACK_MS);
    this.key = this.draw();
  }

  /** A token binding `address` and the client's connection id `cid` to `now`. */
  mint(now: number, address: string, cid: number): Uint8Array {
    const issued = Math.floor(now / 1000) >>> 0;
    this.rotate(issued);
    const token = new Uint8Array(COOKIE_SIZE);
    new DataView(token.buffer).setUint32(0, issued);
    this.tag(this.keyOf(this.periodOf(issued)) as CookieKey, address, cid, issued, token);
    return token;
  }

  /** True if `token` was minted here for `address` and `cid` within the lifetime. */
  verify(now: number, address: string, cid: number, token: Uint8Array): boolean {
    if (token.length !== COOKIE_SIZE) return false;
    const issued = new DataView(token.buffer, token.byteOffset, token.byteLength).getUint32(0);
    const age = now / 1000 - issued;
    if (age < -1 || age * 1000 > this.lifetimeMs + COOKIE_CLOCK_SLACK_MS) return false;
    this.rotate(Math.floor(now / 1000));
    const key = this.keyOf(this.periodOf(issued));
    if (key === undefined) return false;
    const expect = new Uint8Array(COOKIE_SIZE);
    this.tag(key, address, cid, issued, expect);
    let diff = 0;
    for (let i = 4; i < COOKIE_SIZE; i++) diff |= (expect[i] as number) ^ (token[i] as number);
    return diff === 0;
  }

  /** The period of a time in whole seconds: a cookie's issue time and the clock are compared at that grain, so both agree at a boundary. */
  private periodOf(seconds: number): number {
    return Math.floor((seconds * 1000) / this.rotationMs);
  }

  /** The key of `period`: the current one or the one before, else none. */
  private keyOf(period: number): CookieKey | undefined {
    return period === this.period ? this.key : period === this.period - 1 ? this.previous : undefined;
  }

  /**
   * Makes sure the period of `seconds` (the clock in whole seconds) has a
   * key: the current one, the one before (a clock a little behind), or a new
   * one, the current key becoming the previous one if that period is the
   * next. A clock set back further (a driver's wall clock) starts afresh in
   * its period, as a restart would: else every cookie minted until the clock
   * caught up was tagged under a later period's key and refused.
   */
  private rotate(seconds: number): void {
    const period = this.periodOf(seconds);
    if (this.keyOf(period) !== undefined) return;
    this.previous = period === this.period + 1 ? this.key : undefined;
    this.key = this.draw();
    this.period = period;
  }

  private draw(): CookieKey {
    return [this.random(), this.random(), this.random(), this.random()];
  }

  private tag(key: CookieKey, address: string, cid: number, issued: number, out: Uint8Array): void {
    const addr = encoder.encode(address);
    const input = new Uint8Array(addr.length + 8);
    const view = new DataView(input.buffer);
    view.setUint32(0, cid >>> 0);
    view.setUint32(4, issued);
    input.set(addr, 8);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    v.setUint32(4, halfSipHash24(key[0], key[1], input));
    v.setUint32(8, halfSipHash24(key[2], key[3], input));
  }
}

/**
 * The cookies that opened a connection (`address/cid` → when they stop
 * verifying), kept until then: a copy replayed after the connection closed
 * must not open another. Without this, an on-path observer could replay a
 * client's INITIAL from its address for the cookie's lifetime, and each copy
 * cost a handshake, a connection slot of that host and an `incoming` event
 * for the application. Entries go in in order of expiry, so the record holds
 * only the connections accepted within one cookie lifetime.
 */
export class SpentCookies {
  private readonly until = new Map<string, number>();

  constructor(private readonly lifetimeMs: number) {}

  /** Whether the cookie of `key` opened a connection and would still verify at `now`. */
  has(now: number, key: string): boolean {
    return (this.until.get(key) ?? 0) > now;
  }

  /** Marks the cookie of `key` spent at `now`, forgetting those that no longer verify. */
  spend(now: number, key: string): void {
    for (const [k, until] of this.until) {
      if (until > now) break;
      this.until.delete(k);
    }
    this.until.set(key, now + this.lifetimeMs + COOKIE_CLOCK_SLACK_MS);
  }

  /** Cookies remembered. */
  get size(): number {
    return this.until.size;
  }
}
