import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The suite as `vitest run` runs it, logging each forked test file's CPU (scripts/test-cpu-per-file.ts):
 * `CPU_LOG=/tmp/cpu.log /usr/bin/time -v npx vitest run --config vitest.cpu.config.ts`, then rank with
 * `awk -F'\t' '{print $4+$5+$6+$7, $1}' /tmp/cpu.log | sort -rn | head`. The whole run's CPU less the
 * forks' is vitest's own and the shared threads'.
 */
export default mergeConfig(base, defineConfig({ test: { setupFiles: ['./scripts/test-cpu-per-file.ts'] } }));
