/**
 * `npm run demo`: the whole library at work in one command. Starts the commons-search example
 * service on a free loopback port, runs the scripted scenario of the records app through the
 * provisioner (see scenario.ts), prints every delivery as it happens, a summary table and the
 * final searches, and exits non-zero when any expectation fails. With `DATABASE_URL` set, the
 * records app keeps its records in PostgreSQL and the provisioner journals in the same
 * transactions (the PostgreSQL store); without it the demo is embedded and needs no server.
 */
import { runScenario } from './scenario.js';

// With DATABASE_URL the records app and the provisioner share PostgreSQL transactions; without it all runs in memory.
const url = process.env['DATABASE_URL'];
const result = await runScenario({ log: (line) => process.stdout.write(`${line}\n`), ...(url === undefined ? {} : { database: { url } }) });
process.exitCode = result.failures.length === 0 ? 0 : 1;
