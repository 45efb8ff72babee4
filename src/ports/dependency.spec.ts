import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asUnavailable, DependencyUnavailableError, isConnectionError, unavailableDependency } from './dependency';

/** The errors as the drivers throw them (shapes copied from pg, pg-pool, knex via MikroORM, kafkajs, fetch). */
const socket = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('which errors mean "a dependency is unavailable"', () => {
  it('lost and refused connections of pg, pg-pool, knex, kafkajs and fetch', () => {
    for (const e of [
      socket('ECONNREFUSED'),
      socket('ECONNRESET'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated due to connection timeout'),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006', 'connection failure'),
      Object.assign(new Error("select 1 - Connection terminated unexpectedly"), { name: 'DriverException' }),
      new Error('Knex: Timeout acquiring a connection. The pool is probably full.'),
      Object.assign(new Error('Connection timeout'), { name: 'KafkaJSConnectionError' }),
      Object.assign(new TypeError('fetch failed'), { cause: socket('ECONNREFUSED') }),
    ])
      assert.ok(isConnectionError(e), `${e.name}: ${e.message}`);
  });

  it('not a refused statement, bad input or a bug', () => {
    for (const e of [
      pgError('23505', 'duplicate key value violates unique constraint "events_stream_version"'),
      pgError('42P01', 'relation "x" does not exist'),
      new RangeError('not a PostgreSQL event store position: x'),
      new TypeError("Cannot read properties of null (reading 'merchantId')"),
      Object.assign(new Error('stream call-1: expected version 1, actual 2'), { code: 'WRONG_EXPECTED_VERSION' }),
      null,
      undefined,
      'a string',
    ])
      assert.equal(isConnectionError(e), false, String((e as Error | null)?.message ?? e));
  });

  it('a connection error becomes DependencyUnavailableError naming the dependency; anything else is left as it is', () => {
    const lost = new Error('Connection terminated unexpectedly');
    const wrapped = asUnavailable('readModels', lost);
    assert.ok(wrapped instanceof DependencyUnavailableError);
    assert.equal(wrapped.code, 'UNAVAILABLE');
    assert.equal(wrapped.cause, lost);
    assert.match(wrapped.message, /^the read database is unavailable \(Connection terminated unexpectedly\); try again shortly$/);
    assert.equal(unavailableDependency(wrapped), 'readModels');
    assert.equal(unavailableDependency(new Error('x', { cause: wrapped })), 'readModels', 'found as a cause too');
    assert.equal(asUnavailable('eventStore', wrapped), wrapped, 'never wrapped twice');
    const bug = new TypeError('x is not a function');
    assert.equal(asUnavailable('eventStore', bug), bug);
    assert.equal(unavailableDependency(bug), null);
  });
});
