import { describe, expect, it } from 'vitest';
import { TRANSPORT } from '../src/server-defaults.js';
import { TRANSPORT_IDLE_ENV, transportIdle } from '../src/transport-idle.js';

describe('FORUM_SERVER_TEST_TRANSPORT_IDLE_MS (tests only)', () => {
  it('shortens the transport idle timeout, the keep-alive at most half of it', () => {
    expect(transportIdle({ [TRANSPORT_IDLE_ENV]: '2000' })).toEqual({ idleTimeoutMs: 2000, keepAliveMs: 1000 });
    expect(transportIdle({ [TRANSPORT_IDLE_ENV]: '1000' })).toEqual({ idleTimeoutMs: 1000, keepAliveMs: 500 });
    expect(transportIdle({ [TRANSPORT_IDLE_ENV]: '8000' })).toEqual({ idleTimeoutMs: 8000, keepAliveMs: TRANSPORT.keepAliveMs });
  });

  it('anything else leaves TRANSPORT: never longer, never under 1 s, whole ms only', () => {
    const defaults = { idleTimeoutMs: TRANSPORT.idleTimeoutMs, keepAliveMs: TRANSPORT.keepAliveMs };
    for (const value of [undefined, '', '999', '0', '10001', '60000', '1.5e3', '2000ms', '-2000', ' ']) expect(transportIdle({ [TRANSPORT_IDLE_ENV]: value })).toEqual(defaults);
    expect(transportIdle({})).toEqual(defaults);
  });
});
