// The bad-input cases (test/faults/helpers/badInputSuite.ts) with the default in-memory pipeline (no `store` option).
import { badInputSuite } from './helpers/badInputSuite.js';
import { faultStore } from './helpers/stores.js';

badInputSuite(faultStore('memory'));
