/**
 * `npm run bench`: runs bench/run.ts on Node 24, the line docs/performance.md's figures are
 * measured on, whatever `node` is first on the PATH. Under another Node it takes Node 24 from
 * the registry with npx (cached after the first time); `BENCH_NODE=current` runs the bench on
 * this Node instead (22.19 or newer, as the package needs; run.ts refuses older ones).
 * Plain JavaScript: it must start on any Node that npm runs on.
 */
import { execFileSync, spawn } from 'node:child_process';

const BENCH_MAJOR = 24;
const args = ['--import', 'tsx', '--expose-gc', 'bench/run.ts', ...process.argv.slice(2)];
const major = Number(process.versions.node.split('.')[0]);

let node = process.execPath;
if (major !== BENCH_MAJOR && process.env.BENCH_NODE !== 'current') {
  try {
    node = execFileSync('npx', ['-y', '-p', `node@${BENCH_MAJOR}`, 'which', 'node'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      shell: process.platform === 'win32',
    }).trim();
  } catch (error) {
    process.stderr.write(
      `Expected npx to provide Node ${BENCH_MAJOR} for the bench (this is Node ${process.version}), it did not: ${error instanceof Error ? error.message : String(error)}\n` +
        'To run the bench on this Node instead (22.19 or newer): BENCH_NODE=current npm run bench\n',
    );
    process.exit(1);
  }
  process.stderr.write(`note: the bench runs on Node ${BENCH_MAJOR} (${node}); BENCH_NODE=current runs it on this Node, ${process.version}\n`);
}

const child = spawn(node, args, { stdio: 'inherit' });
child.on('exit', (code, signal) => {
  if (signal !== null) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
