import type { Options } from 'tsup';

/** The esbuild plugin: every `fp-ts/lib/X` import bundled from `fp-ts/es6/X`. */
export declare const fpTsEs6: NonNullable<Options['esbuildPlugins']>[number];
