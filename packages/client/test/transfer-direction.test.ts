import { describe, expect, it } from 'vitest';
import { checkTransferReply, directionOf, type TransferData } from '../src/transfer-direction.js';

const reply = (direction: 'upload' | 'download', token = 'ab'.repeat(32)): TransferData => ({
  kind: 'transfer',
  direction,
  thread: 't',
  filename: 'f',
  port: 4000,
  token,
  size: null,
  completionLine: 'done',
});

describe('the transfer direction comes from the typed command', () => {
  it('UPD uploads, DWN downloads, nothing else transfers', () => {
    expect(directionOf('UPD')).toBe('upload');
    expect(directionOf('DWN')).toBe('download');
    expect(directionOf('LST')).toBeUndefined();
  });

  it('a reply that agrees goes ahead', () => {
    expect(checkTransferReply('UPD', reply('upload'))).toEqual({ ok: true, direction: 'upload' });
    expect(checkTransferReply('DWN', reply('download'))).toEqual({ ok: true, direction: 'download' });
  });

  it('a forged reply turning DWN into an upload (or UPD into a download) is refused', () => {
    expect(checkTransferReply('DWN', reply('upload'))).toEqual({ ok: false, message: "The server's reply to DWN asked for an upload instead of a download; nothing was transferred" });
    expect(checkTransferReply('UPD', reply('download'))).toEqual({ ok: false, message: "The server's reply to UPD asked for a download instead of an upload; nothing was transferred" });
    expect(checkTransferReply('RDT', reply('download')).ok).toBe(false);
  });

  it('a token that is not 64 hex digits (a line break would inject a second header line) is refused', () => {
    expect(checkTransferReply('DWN', reply('download', `${'ab'.repeat(32)}\n5`)).ok).toBe(false);
    expect(checkTransferReply('DWN', reply('download', 'AB'.repeat(32))).ok).toBe(false);
  });
});
