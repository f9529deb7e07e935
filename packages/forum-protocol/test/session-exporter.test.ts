import { nodeCryptoProvider as crypto } from 'rudpx';
import { createExporter } from 'rudpx/crypto';
import { describe, expect, it } from 'vitest';
import { exportsSessionKeys, sessionExporter } from '../src/transfer/session-exporter.js';
import { deriveTransferKeys } from '../src/transfer/transfer-keys.js';

const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');

/** A stand-in for a rudp connection: an object with other fields whose `exportKeyingMaterial` is a fresh session's. */
const connectionLike = <T extends object>(fields: T) => {
  const exporter = createExporter(crypto, crypto.randomBytes(32));
  return { ...fields, exportKeyingMaterial: exporter.exportKeyingMaterial.bind(exporter) };
};

describe('sessionExporter', () => {
  const token = 'cd'.repeat(32);

  it("uses the connection's own exporter once it has one, so each session's transfer keys differ", () => {
    const a = connectionLike({ other: 1 });
    const b = createExporter(crypto, crypto.randomBytes(32));
    expect(exportsSessionKeys(a)).toBe(true);
    expect(sessionExporter(a)).toBe(a);
    expect(hex(deriveTransferKeys(sessionExporter(a), token).clientToServer)).not.toBe(hex(deriveTransferKeys(sessionExporter(b), token).clientToServer));
  });

  it('fails closed for a connection without keys (plaintext): no transfer key exists', () => {
    const plain = { remoteAddress: '127.0.0.1:1' };
    expect(exportsSessionKeys(plain)).toBe(false);
    expect(() => sessionExporter(plain)).toThrow(/no keys/);
    const plaintextRudp = connectionLike({ encrypted: false });
    expect(exportsSessionKeys(plaintextRudp)).toBe(false);
    expect(() => sessionExporter(plaintextRudp)).toThrow(/encrypted connection/);
  });
});
