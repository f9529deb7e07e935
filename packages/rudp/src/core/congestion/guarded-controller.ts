/**
 * The congestion controller an application's `congestion` factory made,
 * behind a guard: a throw from the factory or any method becomes a
 * {@link PluginFault}, which ends that connection alone (plugin-fault.ts).
 * After its first fault the guard stands in for the controller, inert (an
 * open window, no pacing), so the goodbye can still leave; the connection
 * sends nothing else by then. The default factory's BBR is rudp's own code
 * and is not wrapped: a throw there is a bug that must stay visible.
 */
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from '../config.js';
import type { AckSample, CongestionController } from './controller.js';
import { PluginFault } from '../../crypto/plugin-fault.js';

/** A guarded controller (see the file's comment). */
class GuardedController implements CongestionController {
  readonly name: string;
  /** The controller; `undefined` once it threw (or its factory did): the guard is inert. */
  private cc: CongestionController | undefined;
  /** The factory's fault, thrown at the first call (the constructor runs where a connection is being made). */
  private pending: PluginFault | undefined;

  constructor(make: () => CongestionController) {
    let name = 'failed';
    let step = 'its factory';
    try {
      this.cc = make();
      step = 'name';
      name = String(this.cc.name);
    } catch (e) {
      this.cc = undefined;
      this.pending = new PluginFault('congestion controller', step, e);
    }
    this.name = name;
  }

  /** Gives up the controller for `e`, thrown in `method`. */
  private fault(method: string, e: unknown): PluginFault {
    this.cc = undefined;
    return new PluginFault('congestion controller', method, e);
  }

  /** The factory's fault, once. */
  private throwPending(): void {
    const f = this.pending;
    if (f === undefined) return;
    this.pending = undefined;
    throw f;
  }

  window(): number {
    this.throwPending();
    if (this.cc === undefined) return Number.MAX_SAFE_INTEGER;
    try {
      return this.cc.window();
    } catch (e) {
      throw this.fault('window', e);
    }
  }

  pacingRate(srttMs: number): number {
    this.throwPending();
    if (this.cc === undefined) return Number.POSITIVE_INFINITY;
    try {
      return this.cc.pacingRate(srttMs);
    } catch (e) {
      throw this.fault('pacingRate', e);
    }
  }

  onPacketSent(now: number, bytes: number): void {
    this.throwPending();
    try {
      this.cc?.onPacketSent(now, bytes);
    } catch (e) {
      throw this.fault('onPacketSent', e);
    }
  }

  onAck(now: number, sample: AckSample): void {
    this.throwPending();
    try {
      this.cc?.onAck(now, sample);
    } catch (e) {
      throw this.fault('onAck', e);
    }
  }

  onLoss(now: number, lostBytes: number, bytesInFlight: number): void {
    this.throwPending();
    try {
      this.cc?.onLoss(now, lostBytes, bytesInFlight);
    } catch (e) {
      throw this.fault('onLoss', e);
    }
  }

  onSpuriousLoss(now: number, bytes: number): void {
    this.throwPending();
    try {
      this.cc?.onSpuriousLoss(now, bytes);
    } catch (e) {
      throw this.fault('onSpuriousLoss', e);
    }
  }
}

/**
 * A new connection's controller from `config.congestion`: the default BBR as it is, an application's
 * behind a guard (its factory's throw, too, is a fault of the connection's, thrown at its first use).
 */
export function newController(config: Pick<ConnectionConfig, 'congestion' | 'mtu'>): CongestionController {
  const make = config.congestion;
  if (make === DEFAULT_CONNECTION_CONFIG.congestion) return make(config.mtu);
  return new GuardedController(() => make(config.mtu));
}
