/**
 * Refuses to run the bench on a Node.js older than the package supports (engines: >=22.19),
 * before anything else loads: the figures would describe a platform users cannot run.
 * Imported first by run.ts.
 */
const MINIMUM = [22, 19] as const;

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
  process.stderr.write(
    `Expected Node.js ${MINIMUM.join('.')} or newer for the bench (the package's engines; the docs' figures are Node 24), got ${process.version}.\n` +
      'Run it with Node 24 first on PATH, for example:\n' +
      '  export PATH="$(dirname "$(npx -y -p node@24 which node)"):$PATH" && npm run bench\n',
  );
  process.exit(1);
}
if (major !== 24) {
  process.stderr.write(`note: the figures in docs/performance.md are Node 24's; this is Node ${process.version}\n`);
}
