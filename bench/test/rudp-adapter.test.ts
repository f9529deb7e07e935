import { describe, expect, it } from 'vitest';
import { isClean } from '../src/integrity/integrity-checker.js';
import { SystemFactory } from '../src/peers/systems.js';
import { runChat } from '../src/run/chat-run.js';
import { CHAT } from '../src/scenarios/chat.js';
import { plainLoss } from '../src/scenarios/link-variants.js';

const factory = await SystemFactory.load();

describe('rudp through the bench adapter', () => {
  it('loads the built rudp core', () => {
    expect(factory.rudpUnavailable).toBeUndefined();
  });

  it('delivers every chat message once, intact and in order at 20% loss', () => {
    const r = runChat(factory, 'rudp', plainLoss(0.2), 5, { ...CHAT, durationMs: 4_000 });
    expect(r.completed).toBe(true);
    expect(isClean(r.integrity)).toBe(true);
    expect(r.integrity.delivered).toBe(401);
  });
});
