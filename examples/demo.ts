/**
 * `npm run demo`: the whole library at work in one command. Starts the commons-search example
 * service on a free loopback port, runs the scripted scenario of the records app through the
 * provisioner (see scenario.ts), prints every delivery as it happens, a summary table and the
 * final searches, and exits non-zero when any expectation fails.
 */
import { runScenario } from './scenario.js';

const result = await runScenario({ log: (line) => process.stdout.write(`${line}\n`) });
process.exitCode = result.failures.length === 0 ? 0 : 1;
