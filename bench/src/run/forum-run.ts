import type { SystemFactory, SystemId } from '../peers/systems.js';

import type { LinkVariant } from '../scenarios/link-variants.js';
import type { Summary } from '../stats/summary.js';

/** Figures of one forum-sessions run. */
export interface ForumResult {
  readonly system: SystemId;
  readonly variant: LinkVariant;
  /** Command round trip (request sent → reply delivered), ms. */
  readonly rtt: Summary;
  readonly commands: number;
  /** Every reply decoded, matched its request and arrived in order. */
  readonly clean: boolean;
  readonly completed: boolean;
}

/** Runs scripted forum sessions; a string explains why the scenario was skipped. */
export async function runForum(
  _factory: SystemFactory,
  _system: SystemId,
  _variant: LinkVariant,
  _seed: number,
  _quick: boolean,
): Promise<ForumResult | string> {
  return 'forum scenario not run yet: waiting for forum-protocol.';
}
