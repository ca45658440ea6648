// The load run (test/faults/helpers/loadSuite.ts) with the redis store.
import { loadSuite } from './helpers/loadSuite.js';
import { faultStore } from './helpers/stores.js';

loadSuite(faultStore('redis'));
