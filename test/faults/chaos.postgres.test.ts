// The chaos run (test/faults/helpers/chaosSuite.ts) with the postgres store.
import { chaosSuite } from './helpers/chaosSuite.js';
import { faultStore } from './helpers/stores.js';

chaosSuite(faultStore('postgres'));
