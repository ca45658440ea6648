// The limits (test/faults/helpers/limitsSuite.ts) with the redis store.
import { limitsSuite } from './helpers/limitsSuite.js';
import { faultStore } from './helpers/stores.js';

limitsSuite(faultStore('redis'));
