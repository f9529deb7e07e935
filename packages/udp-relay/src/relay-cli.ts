import { parseArgs } from 'node:util';
import { formatAddress, parseAddress } from 'rudpx/core';
import { startLossyRelay, type LossyRelay, type LossyRelayOptions } from './lossy-relay.js';

/** Usage line of the `udp-relay` command. */
export const RELAY_USAGE =
  'usage: udp-relay --target HOST:PORT [--listen [HOST:]PORT] [--loss P] [--dup P] [--reorder P] ' +
  '[--delay MS] [--jitter MS] [--jitter-mode fifo|independent] [--reorder-hold MS] [--burst MEAN_LEN] ' +
  '[--bandwidth BITS_PER_S] [--queue BYTES] [--seed N] [--help]';

/** What the command line asked for. */
export type RelayCommand = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: LossyRelayOptions };

/** A parse result: errors are values. */
export type RelayArgsResult = { readonly ok: true; readonly value: RelayCommand } | { readonly ok: false; readonly error: string };

const fail = (error: string): RelayArgsResult => ({ ok: false, error });

function parseNumber(name: string, text: string | undefined, min: number, max: number): number | string | undefined {
  if (text === undefined) return undefined;
  const v = text.trim() === '' ? Number.NaN : Number(text);
  if (!(v >= min && v <= max)) return `--${name} must be a number in [${min}, ${max}], got '${text}'`;
  return v;
}

/** Parses `udp-relay` arguments (node:util parseArgs, strict). */
export function parseRelayArgs(argv: readonly string[]): RelayArgsResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        target: { type: 'string' },
        loss: { type: 'string' },
        dup: { type: 'string' },
        reorder: { type: 'string' },
        delay: { type: 'string' },
        jitter: { type: 'string' },
        'jitter-mode': { type: 'string' },
        'reorder-hold': { type: 'string' },
        burst: { type: 'string' },
        bandwidth: { type: 'string' },
        queue: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
  if (values.help === true) return { ok: true, value: { kind: 'help' } };
  if (values.target === undefined) return fail('--target HOST:PORT is required');
  const target = parseAddress(values.target);
  if (target === undefined || target.port === 0) return fail(`--target must be HOST:PORT, got '${values.target}'`);
  let listenHost = '127.0.0.1';
  let listenPort = 0;
  if (values.listen !== undefined) {
    const asPort = /^\d{1,5}$/.test(values.listen) ? Number(values.listen) : undefined;
    const asAddress = asPort === undefined ? parseAddress(values.listen) : undefined;
    if (asPort !== undefined && asPort <= 65535) listenPort = asPort;
    else if (asAddress !== undefined) ({ host: listenHost, port: listenPort } = asAddress);
    else return fail(`--listen must be PORT or HOST:PORT, got '${values.listen}'`);
  }
  const numbers = {
    loss: parseNumber('loss', values.loss, 0, 1),
    duplicate: parseNumber('dup', values.dup, 0, 1),
    reorder: parseNumber('reorder', values.reorder, 0, 1),
    delayMs: parseNumber('delay', values.delay, 0, 600_000),
    jitterMs: parseNumber('jitter', values.jitter, 0, 600_000),
    reorderHoldMs: parseNumber('reorder-hold', values['reorder-hold'], 0, 600_000),
    burst: parseNumber('burst', values.burst, 1, 1_000_000),
    bandwidthBps: parseNumber('bandwidth', values.bandwidth, 1, 1e12),
    queueBytes: parseNumber('queue', values.queue, 0, 1e12),
    seed: parseNumber('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
  };
  for (const v of Object.values(numbers)) if (typeof v === 'string') return fail(v);
  const num = (v: number | string | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
  const jitterMode = values['jitter-mode'];
  if (jitterMode !== undefined && jitterMode !== 'fifo' && jitterMode !== 'independent') {
    return fail(`--jitter-mode must be 'fifo' or 'independent', got '${jitterMode}'`);
  }
  const burst = num(numbers.burst);
  const optional = {
    reorderHoldMs: num(numbers.reorderHoldMs),
    bandwidthBps: num(numbers.bandwidthBps),
    queueBytes: num(numbers.queueBytes),
  };
  const options: LossyRelayOptions = {
    listenHost,
    listenPort,
    targetHost: target.host,
    targetPort: target.port,
    seed: num(numbers.seed) ?? 1,
    loss: num(numbers.loss) ?? 0,
    duplicate: num(numbers.duplicate) ?? 0,
    reorder: num(numbers.reorder) ?? 0,
    delayMs: num(numbers.delayMs) ?? 0,
    jitterMs: num(numbers.jitterMs) ?? 0,
    ...(jitterMode !== undefined ? { jitterMode } : {}),
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    ...(burst !== undefined ? { burst: { meanBurstLength: burst } } : {}),
  };
  if (options.queueBytes !== undefined && options.bandwidthBps === undefined) return fail('--queue needs --bandwidth');
  return { ok: true, value: { kind: 'run', options } };
}

/** Where the command writes, and (for tests) a way to stop it besides SIGINT/SIGTERM. */
export interface RelayCliIo {
  readonly print: (line: string) => void;
  readonly printError: (line: string) => void;
  readonly signal?: AbortSignal;
}

const defaultIo: RelayCliIo = {
  print: (line) => process.stdout.write(`${line}\n`),
  printError: (line) => process.stderr.write(`${line}\n`),
};

/**
 * The `udp-relay` command. Resolves with the exit code (also set on
 * `process.exitCode`): 0 after `--help` or a clean stop on SIGINT/SIGTERM,
 * 2 on bad arguments, 1 if the relay cannot start.
 */
export async function runRelayCli(argv: readonly string[], io: RelayCliIo = defaultIo): Promise<number> {
  const done = (code: number): number => {
    process.exitCode = code;
    return code;
  };
  const parsed = parseRelayArgs(argv);
  if (!parsed.ok) {
    io.printError(`udp-relay: ${parsed.error}`);
    io.printError(RELAY_USAGE);
    return done(2);
  }
  if (parsed.value.kind === 'help') {
    io.print(RELAY_USAGE);
    return done(0);
  }
  const options = parsed.value.options;
  let relay: LossyRelay;
  try {
    relay = await startLossyRelay(options);
  } catch (e) {
    io.printError(`udp-relay: cannot start: ${e instanceof Error ? e.message : String(e)}`);
    return done(1);
  }
  const listen = formatAddress(options.listenHost ?? '127.0.0.1', relay.port);
  const target = formatAddress(options.targetHost ?? '127.0.0.1', options.targetPort);
  io.print(`relay listening on ${listen} -> ${target}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted === true) stop();
    else io.signal?.addEventListener('abort', stop);
  });
  await relay.close();
  const s = relay.stats();
  io.print(
    `relay stopped: client->server ${s.clientToServer.sentDatagrams} in, ${s.clientToServer.deliveredDatagrams} out; ` +
      `server->client ${s.serverToClient.sentDatagrams} in, ${s.serverToClient.deliveredDatagrams} out`,
  );
  return done(0);
}
