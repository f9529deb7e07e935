/** Watching what an endpoint sends, for tests that count packets or frames. */
import type { Endpoint } from '../../src/core/endpoint.js';
import { type Frame, parseFrames } from '../../src/wire/frame.js';
import { type PacketHeader, PacketType, parseHeader } from '../../src/wire/packet.js';

/** Calls `onData` with each DATA packet `endpoint` sends (header and datagram), before it leaves. */
export function tapDataPackets(endpoint: Endpoint, onData: (header: PacketHeader, datagram: Uint8Array, now: number) => void): void {
  const poll = endpoint.pollTransmit.bind(endpoint);
  endpoint.pollTransmit = (now) => {
    const t = poll(now);
    const h = t && parseHeader(t.data);
    if (t && h && typeof h !== 'string' && h.type === PacketType.Data) onData(h, t.data, now);
    return t;
  };
}

/** Live counts of the packets `endpoint` sends that carry message data, and of those that also carry a `frame` frame. */
export function countDataPackets(endpoint: Endpoint, frame: Frame['type']): { data: number; with: number } {
  const seen = { data: 0, with: 0 };
  tapDataPackets(endpoint, (h) => {
    const frames = parseFrames(h.payload) ?? [];
    if (!frames.some((f) => f.type === 'fragment')) return;
    seen.data++;
    if (frames.some((f) => f.type === frame)) seen.with++;
  });
  return seen;
}
