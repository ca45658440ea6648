// The chaos run (test/faults/helpers/chaosSuite.ts) with the default in-memory pipeline (no `store` option).
import { chaosSuite } from './helpers/chaosSuite.js';
import { faultStore } from './helpers/stores.js';

chaosSuite(faultStore('memory'));
