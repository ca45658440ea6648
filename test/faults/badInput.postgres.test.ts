// The bad-input cases (test/faults/helpers/badInputSuite.ts) with the postgres store.
import { badInputSuite } from './helpers/badInputSuite.js';
import { faultStore } from './helpers/stores.js';

badInputSuite(faultStore('postgres'));
