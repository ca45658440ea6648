// The chaos run (test/faults/helpers/chaosSuite.ts) with the sqlite store.
import { chaosSuite } from './helpers/chaosSuite.js';
import { faultStore } from './helpers/stores.js';

chaosSuite(faultStore('sqlite'));
