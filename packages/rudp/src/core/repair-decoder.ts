/**
 * The receiving side of the repair code: keeps the small messages that
 * arrived (a connection has one while its peer sends repairs) and the
 * repairs it cannot use yet,
 * and solves for missing messages by Gaussian elimination over GF(2^8) as
 * soon as enough repairs cover them. State is bounded: `KEEP_SPAN` message
 * ids and `MAX_EQUATIONS` pending repairs.
 */
import { gfInv, gfMul, gfMulAdd, gfScale } from './gf256.js';
import { REPAIR_ROW, repairCoefficient } from './repair-code.js';
import { MAX_REPAIR_COVER, type RepairFrame } from '../wire/frame.js';

/** A message rebuilt from repairs. */
export interface RecoveredMessage {
  readonly id: number;
  readonly data: Uint8Array;
}

/** Message ids behind the newest kept message whose bytes are still kept. */
const KEEP_SPAN = 2 * MAX_REPAIR_COVER;
/** Most repairs waiting for more equations. */
const MAX_EQUATIONS = 16;

interface Equation {
  /** Unknown message ids with their (non-zero) coefficients. */
  ids: number[];
  coefs: number[];
  /** Σ coef · canonical symbol, `REPAIR_ROW` bytes. */
  readonly row: Uint8Array;
}

/** Solves missing small messages from REPAIR frames. */
export class RepairDecoder {
  private readonly kept = new Map<number, Uint8Array>();
  private newestKept = -1;
  private equations: Equation[] = [];

  /** `isWhole(id)`: the message already arrived whole, by any means. */
  constructor(private readonly isWhole: (id: number) => boolean) {}

  /** A small message arrived whole; returns what it unlocked. The bytes are copied. */
  messageArrived(id: number, data: Uint8Array): RecoveredMessage[] {
    if (data.length > REPAIR_ROW - 1) return [];
    this.keep(id, data.slice());
    return this.equations.length > 0 ? this.solve() : [];
  }

  /** A REPAIR frame from packet `pn`; returns the messages it completed. */
  repairArrived(pn: number, f: RepairFrame): RecoveredMessage[] {
    const row = new Uint8Array(REPAIR_ROW);
    const ids: number[] = [];
    const coefs: number[] = [];
    let lengthByte = 0;
    for (let id = f.baseId; id < f.baseId + f.count; id++) {
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
        ids.push(id);
        coefs.push(c);
      }
    }
    if (ids.length === 0) return [];
    // `row` holds what the known messages contribute; the repair minus that is the unknowns' sum.
    if (f.uniform) {
      row[0] = (row[0] as number) ^ lengthByte;
      gfMulAdd(row.subarray(1), f.symbol, 1);
    } else {
      gfMulAdd(row, f.symbol, 1);
    }
    this.equations.push({ ids, coefs, row });
    if (this.equations.length > MAX_EQUATIONS) this.equations.shift();
    return this.solve();
  }

  private keep(id: number, data: Uint8Array): void {
    this.kept.set(id, data);
    if (id > this.newestKept) {
      this.newestKept = id;
      for (const k of this.kept.keys()) if (k < id - KEEP_SPAN) this.kept.delete(k);
    }
  }

  /** Substitutes known messages and eliminates until no further message can be solved. */
  private solve(): RecoveredMessage[] {
    const out: RecoveredMessage[] = [];
    for (;;) {
      this.substituteKnown();
      const solved = this.eliminate();
      if (solved.length === 0) return out;
      for (const [id, row] of solved) {
        const data = messageFromRow(row);
        if (data === undefined) {
          // Inconsistent equations (a peer that lied, or stale ones): start over rather than guess.
          this.equations = [];
          return out;
        }
        this.keep(id, data);
        out.push({ id, data: data.slice() });
      }
    }
  }

  private substituteKnown(): void {
    const next: Equation[] = [];
    for (const e of this.equations) {
      let usable = true;
      for (let i = e.ids.length - 1; i >= 0; i--) {
        const id = e.ids[i] as number;
        const known = this.kept.get(id);
        if (known === undefined) {
          if (this.isWhole(id)) usable = false;
          continue;
        }
        subtractMessage(e.row, known, e.coefs[i] as number);
        e.ids.splice(i, 1);
        e.coefs.splice(i, 1);
      }
      if (usable && e.ids.length > 0) next.push(e);
    }
    this.equations = next;
  }

  /**
   * Reduced row echelon form over the unknown ids; equations left with one
   * unknown are solved and returned (removed from the pending set).
   */
  private eliminate(): [number, Uint8Array][] {
    const columns = [...new Set(this.equations.flatMap((e) => e.ids))].sort((a, b) => a - b);
    const index = new Map(columns.map((id, i) => [id, i]));
    const rows = this.equations.map((e) => {
      const dense = new Array<number>(columns.length).fill(0);
      e.ids.forEach((id, i) => (dense[index.get(id) as number] = e.coefs[i] as number));
      return { dense, row: e.row };
    });
    let rank = 0;
    for (let col = 0; col < columns.length && rank < rows.length; col++) {
      const p = rows.findIndex((r, i) => i >= rank && r.dense[col] !== 0);
      if (p < 0) continue;
      const pivot = rows[p] as (typeof rows)[number];
      rows[p] = rows[rank] as (typeof rows)[number];
      rows[rank] = pivot;
      const inv = gfInv(pivot.dense[col] as number);
      for (let j = 0; j < columns.length; j++) pivot.dense[j] = gfMul(pivot.dense[j] as number, inv);
      gfScale(pivot.row, inv);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as (typeof rows)[number];
        const f = r.dense[col] as number;
        if (i === rank || f === 0) continue;
        for (let j = 0; j < columns.length; j++) r.dense[j] = (r.dense[j] as number) ^ gfMul(f, pivot.dense[j] as number);
        gfMulAdd(r.row, pivot.row, f);
      }
      rank++;
    }
    const solved: [number, Uint8Array][] = [];
    const pending: Equation[] = [];
    for (const r of rows) {
      const nz: number[] = [];
      r.dense.forEach((c, j) => {
        if (c !== 0) nz.push(j);
      });
      if (nz.length === 0) continue;
      if (nz.length === 1) solved.push([columns[nz[0] as number] as number, r.row]);
      else pending.push({ ids: nz.map((j) => columns[j] as number), coefs: nz.map((j) => r.dense[j] as number), row: r.row });
    }
    this.equations = pending;
    return solved;
  }
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
