// The chaos run (test/faults/helpers/chaosSuite.ts) with the redis store.
import { chaosSuite } from './helpers/chaosSuite.js';
import { faultStore } from './helpers/stores.js';

chaosSuite(faultStore('redis'));
