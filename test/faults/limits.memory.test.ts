// The limits (test/faults/helpers/limitsSuite.ts) with the default in-memory pipeline (no `store` option).
import { limitsSuite } from './helpers/limitsSuite.js';
import { faultStore } from './helpers/stores.js';

limitsSuite(faultStore('memory'));
