// An esbuild plugin for the forum binaries' bundles: fp-ts's CommonJS build (`fp-ts/lib/…`, what forum-protocol
// imports) resolved to its ES module build (`fp-ts/es6/…`, the same modules and exports, what io-ts imports).
// Bundled as CommonJS, fp-ts was kept whole (143 KB of forum-server's bundle, every export copied into an
// ES module wrapper at each start) and beside the ES copy io-ts brought; as ES modules only what is used is kept.

/** The esbuild plugin: every `fp-ts/lib/X` import bundled from `fp-ts/es6/X`. */
export const fpTsEs6 = {
  name: 'fp-ts-es6',
  setup(build) {
    build.onResolve({ filter: /^fp-ts\/lib\// }, (args) =>
      build.resolve(args.path.replace(/^fp-ts\/lib\//, 'fp-ts/es6/'), { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer }),
    );
  },
};
