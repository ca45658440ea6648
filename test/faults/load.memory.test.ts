// The load run (test/faults/helpers/loadSuite.ts) with the default in-memory pipeline (no `store` option).
import { loadSuite } from './helpers/loadSuite.js';
import { faultStore } from './helpers/stores.js';

loadSuite(faultStore('memory'));
