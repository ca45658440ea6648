import { readFileSync } from 'node:fs';
import type { AppRecord, Identity } from '../../src/index.js';

// The fixtures in test/fixtures (InvenioRDM 12 shapes); every call returns a fresh object.
const read = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const rdmRecordJson = read('rdm-record.json');
const communityJson = read('community.json');

/** A published RDM record, as the record service passes it. */
export type RdmRecord = AppRecord & {
  id: string;
  metadata: { title: string; [key: string]: unknown };
  parent: { id: string; [key: string]: unknown };
};

/** A community, as the community service passes it. */
export type Community = AppRecord & { id: string; slug: string; metadata: { title: string; [key: string]: unknown } };

export const rdmRecord = (): RdmRecord => JSON.parse(rdmRecordJson) as RdmRecord;
export const community = (): Community => JSON.parse(communityJson) as Community;
export const identity: Identity = { id: 7, email: 'troy@example.org' };
