// How the gateway process is started, in one place. The `tpgw` shebang (gateway/cli.ts),
// `npm start`, systemd/tpgw.service and the idle-memory bench all repeat these; a test
// (test/gateway/launch.test.ts) keeps them equal, so the RSS the bench reports is the RSS of
// the command the unit runs.

/**
 * `--no-turbofan`: no optimising compiler; functions run in Ignition and Sparkplug (V8's
 * baseline compiler) only. Loading the native addons makes Node's own path functions hot, so
 * Turbofan used to be pulled in during start-up: ~4 MB of compiler code and optimised code
 * resident for good. The gateway's hot paths are SQLite, socket writes and copies in native
 * code: the backlog drain measured no slower without it (`npm run bench -- sync` runs the
 * drain with these flags, against a raw client on Node's defaults).
 * `--max-semi-space-size=1`: a 1 MB young generation; the gateway allocates little per second,
 * and a default-sized one keeps ~20 MB of RSS it never needs on a 1 GB box.
 * `--optimize-for-size`: V8 favours memory over speed (smaller heap growth steps, less
 * inlining): ~3 MB less idle RSS; the hot paths are SQLite commits and socket I/O in native code.
 * `--v8-pool-size=1`: one V8 background thread (concurrent GC, compilation) instead of Node's
 * four: ~1.5 MB less resident (their stacks and malloc arenas); a gateway's background work is light.
 * `--expose-gc`: lets `tpgw run` do one full collection right after start (cli.ts), ~1.5 MB.
 */
export const NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--optimize-for-size',
  '--v8-pool-size=1',
  '--no-turbofan',
  '--expose-gc',
];

/**
 * The production entry point, relative to the package root: the CLI bundled and minified by
 * esbuild (`npm run build`). One minified file instead of ~300 modules keeps ~8 MB less source
 * text, module records and resolution caches resident. Native addons stay in node_modules.
 */
export const ENTRY = 'dist/bundle/tpgw.js';
