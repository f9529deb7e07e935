/**
 * The receiving side of the repair code (a connection has one while its peer
 * sends repairs): keeps the small messages that arrived and the repairs it
 * cannot use yet, and solves for missing messages by Gauss–Jordan
 * elimination over GF(2^8), one repair at a time, as soon as enough repairs
 * cover them. State and work are bounded: `KEEP_SPAN`
 * message ids kept, `MAX_EQUATIONS` pending repairs over at most
 * `MAX_UNKNOWNS` missing messages, so a hostile peer's repairs cost at most a
 * small fixed elimination each.
 */
import { gfInv, gfMul, gfMulAdd, gfScale } from './gf256.js';
import { REPAIR_ROW, repairCoefficient } from './repair-code.js';
import { MAX_REPAIR_COVER, type RepairFrame } from '../../wire/frame.js';

/** A message rebuilt from repairs. */
export interface RecoveredMessage {
  readonly id: number;
  readonly data: Uint8Array;
}

/** Message ids behind the newest kept message whose bytes are still kept (a repair reaching further back is refused). */
export const KEEP_SPAN = 2 * MAX_REPAIR_COVER;
/** Most repairs waiting for more equations. */
const MAX_EQUATIONS = 16;
/** Most distinct unknown messages the waiting repairs may cover (bounds the elimination's work). */
const MAX_UNKNOWNS = MAX_REPAIR_COVER;

interface Equation {
  /**
   * Unknown message ids with their non-zero coefficients. The equations are
   * kept in reduced row echelon form: each has a pivot id with coefficient 1
   * that no other equation contains.
   */
  readonly coefs: Map<number, number>;
  pivot: number;
  /** Σ coef · canonical symbol, `REPAIR_ROW` bytes. */
  readonly row: Uint8Array;
}

/** Solves missing small messages from REPAIR frames. */
export class RepairDecoder {
  private readonly kept = new Map<number, Uint8Array>();
  private newestKept = -1;
  private equations: Equation[] = [];
  /** Bytes of a row that can be non-zero (1 + the widest symbol seen): row operations stop there. */
  private width = 1;

  /**
   * `isWhole(id)`: the message already arrived whole, by any means;
   * `firstMissing()`: the lowest id that has not (where repairs start to matter).
   */
  constructor(
    private readonly isWhole: (id: number) => boolean,
    private readonly firstMissing: () => number,
  ) {}

  /** A small message arrived whole; returns what it unlocked. The bytes are copied. */
  messageArrived(id: number, data: Uint8Array): RecoveredMessage[] {
    if (data.length > REPAIR_ROW - 1) return [];
    const bytes = data.slice();
    this.keep(id, bytes);
    // No repair waiting (the usual case: a decoder a gap started, kept in case repairs follow): done,
    // without the filter's array per message.
    if (this.equations.length === 0) return [];
    const touched = this.equations.filter((e) => e.coefs.has(id));
    if (touched.length === 0) return [];
    // Where it was a pivot, the equation needs a new one: take it out and add it again.
    const readd: Equation[] = [];
    for (const e of touched) {
      subtractMessage(e.row, bytes, e.coefs.get(id) as number);
      e.coefs.delete(id);
      if (e.pivot === id) readd.push(e);
    }
    this.equations = this.equations.filter((e) => e.coefs.size > 0 && !readd.includes(e));
    for (const e of readd) if (e.coefs.size > 0) this.add(e);
    return this.harvest();
  }

  /** A REPAIR frame from packet `pn`; returns the messages it completed. */
  repairArrived(pn: number, f: RepairFrame): RecoveredMessage[] {
    // An honest repair covers messages sent in the last round trips: near the newest that arrived.
    const near = Math.max(this.newestKept, this.firstMissing());
    if (f.baseId + f.count - 1 > near + KEEP_SPAN || f.baseId < near - KEEP_SPAN) return [];
    this.width = Math.max(this.width, f.symbol.length + (f.uniform ? 1 : 0));
    const row = new Uint8Array(REPAIR_ROW);
    const coefs = new Map<number, number>();
    let lengthByte = 0;
    for (let i = 0; i < f.count; i++) {
      const id = f.baseId + i;
      const c = repairCoefficient(pn, id);
      if (f.uniform) lengthByte ^= gfMul(c, f.symbol.length);
      const known = this.kept.get(id);
      if (known !== undefined) {
        subtractMessage(row, known, c);
      } else if (this.isWhole(id)) {
        // It arrived before repairs started (or long ago) and its bytes are gone: this repair
        // cannot be used.
        return [];
      } else {
        coefs.set(id, c);
      }
    }
    if (coefs.size === 0) return [];
    // `row` holds what the known messages contribute; the repair minus that is the unknowns' sum.
    if (f.uniform) {
      row[0] = (row[0] as number) ^ lengthByte;
      gfMulAdd(row.subarray(1), f.symbol, 1);
    } else {
      gfMulAdd(row, f.symbol, 1);
    }
    this.add({ coefs, pivot: -1, row });
    return this.harvest();
  }

  private keep(id: number, data: Uint8Array): void {
    // Only a window of ids: no repair reaches further back, and an old id must not grow the map.
    if (id < this.newestKept - KEEP_SPAN) return;
    this.kept.set(id, data);
    if (id > this.newestKept) {
      this.newestKept = id;
      // From the oldest kept (a Map keeps insertion order, and ids arrive nearly in order) to the first
      // still in the window: amortised O(1) a message. Walking every key, as before, cost up to
      // KEEP_SPAN steps a message while any decoder lived, and a gap starts one: the sender's skipped
      // packet numbers (one in 128-1023) kept one alive on a lossless path, and a loopback stream of
      // 64-byte messages spent a third of its CPU here. An id kept out of order behind a newer one
      // leaves when the walk reaches it.
      for (const k of this.kept.keys()) {
        if (k >= id - KEEP_SPAN) break;
        this.kept.delete(k);
      }
    }
  }

  /** Adds an equation to the reduced set (Gauss–Jordan, one row at a time); it may be redundant. */
  private add(e: Equation): void {
    for (const q of this.equations) {
      const f = e.coefs.get(q.pivot);
      if (f !== undefined) this.combine(e, q, f);
    }
    if (e.coefs.size === 0) return;
    e.pivot = Math.min(...e.coefs.keys());
    const inv = gfInv(e.coefs.get(e.pivot) as number);
    for (const [id, c] of e.coefs) e.coefs.set(id, gfMul(c, inv));
    gfScale(e.row.subarray(0, this.width), inv);
    for (const q of this.equations) {
      const f = q.coefs.get(e.pivot);
      if (f !== undefined) this.combine(q, e, f);
    }
    this.equations.push(e);
    // Dropping an equation leaves the others reduced.
    while (this.equations.length > MAX_EQUATIONS || unknownCount(this.equations) > MAX_UNKNOWNS) this.equations.shift();
  }

  /** target −= f · source (coefficients and row). */
  private combine(target: Equation, source: Equation, f: number): void {
    for (const [id, c] of source.coefs) {
      const v = (target.coefs.get(id) ?? 0) ^ gfMul(f, c);
      if (v === 0) target.coefs.delete(id);
      else target.coefs.set(id, v);
    }
    gfMulAdd(target.row, source.row.subarray(0, this.width), f);
  }

  /** Takes out every equation left with one unknown: that message is solved. */
  private harvest(): RecoveredMessage[] {
    const out: RecoveredMessage[] = [];
    for (const e of this.equations.filter((q) => q.coefs.size === 1)) {
      const data = messageFromRow(e.row);
      if (data === undefined) {
        // Inconsistent equations (a peer that lied, or stale ones): start over rather than guess.
        this.equations = [];
        return out;
      }
      // A pivot appears in no other equation, so nothing else changes.
      this.equations = this.equations.filter((q) => q !== e);
      this.keep(e.pivot, data);
      out.push({ id: e.pivot, data: data.slice() });
    }
    return out;
  }
}

/** Distinct unknown ids over `equations`. */
function unknownCount(equations: readonly Equation[]): number {
  const ids = new Set<number>();
  for (const e of equations) for (const id of e.coefs.keys()) ids.add(id);
  return ids.size;
}

/** row ^= c · canonical(message). */
function subtractMessage(row: Uint8Array, message: Uint8Array, c: number): void {
  row[0] = (row[0] as number) ^ gfMul(c, message.length);
  gfMulAdd(row.subarray(1), message, c);
}

/** The message a solved canonical row holds, or `undefined` if its padding is not zero (inconsistent). */
function messageFromRow(row: Uint8Array): Uint8Array | undefined {
  const len = row[0] as number;
  for (let i = 1 + len; i < row.length; i++) if (row[i] !== 0) return undefined;
  return row.slice(1, 1 + len);
}
