// The load run (test/faults/helpers/loadSuite.ts) with the postgres store.
import { loadSuite } from './helpers/loadSuite.js';
import { faultStore } from './helpers/stores.js';

loadSuite(faultStore('postgres'));
