// The limits (test/faults/helpers/limitsSuite.ts) with the postgres store.
import { limitsSuite } from './helpers/limitsSuite.js';
import { faultStore } from './helpers/stores.js';

limitsSuite(faultStore('postgres'));
