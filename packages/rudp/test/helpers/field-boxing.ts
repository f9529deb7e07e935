/**
 * Measures what one object's large number costs every other object of its class. A field V8 first
 * saw as a small integer (a `= 0` initializer) becomes, once any object of the class holds a number
 * past 2^31 − 1 (or a fraction, or Infinity) in it, a boxed 16-byte HeapNumber in every object of the
 * class: one connection's long run would cost each of a server's idle connections 16 bytes a field.
 * Use it in a test file of its own: a field made a box by an earlier test in the same worker is
 * counted before the measurement starts.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Past the largest small integer V8 keeps unboxed on 64-bit Node (2^31 − 1). */
export const PAST_SMI = 2 ** 31 + 4096;

/** How the measurement makes, reads and pushes the objects. */
export interface BoxingProbe<T> {
  /** Makes one of the objects measured (each as an idle connection holds it). */
  make(): T;
  /**
   * Reads the fields (through the class's own methods), so V8 moves each object off a map it gave up.
   * Called first after the push: its loads start with no map recorded, so each object on the map given
   * up misses and is moved (a load that had recorded that map before could keep hitting it unmoved).
   */
  read(o: T): number;
  /** Drives a separate object of the same classes past the value (asserting it got there). */
  push(): void;
}

/** A load of each property name, compiled for this measurement (see `touchFresh`). */
const loaders = new Map<string, (o: object) => unknown>();

/**
 * Loads a property of `o` and of the objects its fields hold (`depth` levels) through functions that
 * never saw the map V8 gave up: a load that did (the class's own getter, used while the objects were
 * made) keeps hitting it and leaves the object on it, unboxed; a load that misses moves the object.
 */
function touchFresh(o: object, depth: number): void {
  const keys = Object.keys(o);
  const first = keys[0];
  if (first === undefined || !/^[A-Za-z_$][\w$]*$/.test(first)) return;
  let load = loaders.get(first);
  if (load === undefined) {
    load = new Function('o', `return o.${first};`) as (o: object) => unknown;
    loaders.set(first, load);
  }
  load(o);
  if (depth === 0) return;
  for (const k of keys) {
    const v: unknown = (o as Record<string, unknown>)[k];
    if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !Array.isArray(v)) touchFresh(v, depth - 1);
  }
}

/**
 * Heap growth per object of `count` made by `probe.make`, across `probe.push` (one box a field is 16
 * bytes an object; a few hundred bytes of the pushed object and of the runner's own spread over
 * 200,000 objects are well under one).
 */
export function heapGrowthPerObject<T>(probe: BoxingProbe<T>, count = 200_000): number {
  const all = Array.from({ length: count }, () => probe.make());
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  probe.push();
  let sum = 0;
  for (const o of all) {
    sum += probe.read(o);
    touchFresh(o as object, 2);
  }
  if (typeof sum !== 'number' || Number.isNaN(sum)) throw new Error('a field read is not a number');
  gc();
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  // Used after the measurement, so the objects measured are still alive in it.
  if (all.length !== count) throw new Error('objects lost');
  return grown / count;
}
