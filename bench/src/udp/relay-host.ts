import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LossyRelayOptions, LossyRelayStats } from 'udp-relay';
import type { RelayReply, RelayRequest } from './relay-child.js';

/** Counters of one relay in the relay process. */
export interface RelaySnapshot extends LossyRelayStats {
  /** Datagrams the kernel dropped at the relay's sockets (full receive buffers); `NaN` off Linux. */
  readonly kernelDrops: number;
  /** CPU the relay process used since it started (user + system), seconds. */
  readonly cpuSeconds: number;
}

/** One relay running in the relay process. */
export interface HostedRelay {
  readonly port: number;
  stats(): Promise<RelaySnapshot>;
  close(): Promise<void>;
}

/**
 * A child process that runs the benchmark's impairing relays, so the relay
 * has an event loop (and a CPU account) of its own: in the process of the
 * two peers it shares their loop, reads its socket only between their
 * callbacks, and a burst the sender writes meanwhile overflows the relay's
 * receive buffer — drops no simulated link has.
 */
export class RelayHost {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: RelayReply) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: RelayReply) => {
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m);
    });
  }

  /** Forks the relay process (TypeScript, loaded through tsx as the bench is). */
  static async start(): Promise<RelayHost> {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = fork(fileURLToPath(new URL('./relay-child.ts', import.meta.url)), [], { execArgv: ['--import', tsx], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const host = new RelayHost(child);
    await host.ask({ type: 'ping', id: 0 });
    return host;
  }

  /** Starts a relay with `options` in the relay process. */
  async startRelay(options: LossyRelayOptions): Promise<HostedRelay> {
    const started = await this.ask({ type: 'start', id: 0, options });
    if (started.type !== 'started') throw new Error(started.type === 'error' ? started.message : 'relay did not start');
    const relayId = started.relay;
    return {
      port: started.port,
      stats: async () => {
        const r = await this.ask({ type: 'stats', id: 0, relay: relayId });
        if (r.type !== 'stats') throw new Error(r.type === 'error' ? r.message : 'no relay stats');
        return r.stats;
      },
      close: async () => {
        await this.ask({ type: 'close', id: 0, relay: relayId });
      },
    };
  }

  /** Ends the relay process. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    await exited;
  }

  private ask(request: RelayRequest): Promise<RelayReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve);
      this.child.send({ ...request, id }, (e) => {
        if (e) {
          this.waiting.delete(id);
          reject(e);
        }
      });
    });
  }
}
