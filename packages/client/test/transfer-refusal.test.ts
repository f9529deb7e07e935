import { describe, expect, it } from 'vitest';
import { transferFailureLine, uploadUnknownLine } from '../src/transfer-refusal.js';

describe('transferFailureLine', () => {
  it("prints a refusal because the transfer's thread is gone as the spec words it, alone on its line", () => {
    expect(transferFailureLine('upload', 'big.bin', 't', 'Thread t does not exist')).toBe('Thread t does not exist');
    expect(transferFailureLine('download', 'f.txt', 'notes', 'Thread notes does not exist')).toBe('Thread notes does not exist');
  });

  it('says which transfer failed and why for anything else, another thread named in the reason included', () => {
    expect(transferFailureLine('upload', 'big.bin', 't', 'file too large: 9 bytes, the server accepts at most 8')).toBe('Upload of big.bin failed: file too large: 9 bytes, the server accepts at most 8');
    expect(transferFailureLine('download', 'f.txt', 't', 'transfer broken off after 3 of 9 bytes')).toBe('Download of f.txt failed: transfer broken off after 3 of 9 bytes');
    expect(transferFailureLine('upload', 'a', 't', 'Thread u does not exist')).toBe('Upload of a failed: Thread u does not exist');
  });
});

describe('uploadUnknownLine', () => {
  it('says the upload may or may not be stored, and how to find out, never that it failed', () => {
    const line = uploadUnknownLine('big.bin', 't', 'no answer from the server within 60 s of the last byte');
    expect(line).toBe('Upload of big.bin: no answer from the server within 60 s of the last byte; it may or may not have been stored (RDT t shows it if it was)');
    expect(line).not.toContain('failed');
  });
});
