// The literal createPgUnitOfWork sends a transaction's journal in is the one pg's own
// escapeLiteral makes, and PostgreSQL reads it back as the same string.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlLiteral } from '../../src/hooks/outboxUnitOfWork.js';
import { DATABASE_URL, assertPostgresReachable } from '../store/helpers/postgres.js';

const samples = [
  '',
  'plain',
  "it's",
  "''",
  'a\\b',
  "back\\slash and 'quote'",
  '\\',
  JSON.stringify({ title: "O'Brien \\ \"quoted\" \n tab\t", emoji: '📚', nested: { path: 'C:\\data' } }),
];

describe('sqlLiteral', () => {
  it.each(samples)('escapes %j as pg.escapeLiteral does', (value) => {
    expect(sqlLiteral(value)).toBe(pg.escapeLiteral(value));
  });

  describe('read back by PostgreSQL', () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    beforeAll(() => assertPostgresReachable());
    afterAll(() => pool.end());

    it('gives back every sample unchanged', async () => {
      const { rows } = await pool.query<{ value: string }>(samples.map((value, index) => `SELECT ${index} AS index, ${sqlLiteral(value)}::text AS value`).join(' UNION ALL ') + ' ORDER BY index');
      expect(rows.map((row) => row.value)).toEqual(samples);
    });
  });
});
