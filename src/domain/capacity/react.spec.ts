import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallTerminated } from '../call/events';
import { react, type Holdings, type ReleaseCommand } from './react';

const at = '2026-11-23T10:05:00.000Z';
const context = { at, quarantineSeconds: 30 };
const terminated = (callId: string): CallTerminated => ({
  type: 'CallTerminated',
  data: { callId, cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 12, gatewayId: 'gw1', port: 3, at: '2026-11-23T10:04:00.000Z' },
});

/** given(what calls hold).when(a call ended).then(the commands, in order). */
const given = (holdings: Partial<Holdings>) => ({
  when: (event: CallTerminated) => ({
    then: (expected: ReleaseCommand[]) => assert.deepStrictEqual(react(event, { slots: [], ports: [], ...holdings }, context), expected),
  }),
});

const freeSlot = (scope: 'merchant' | 'center', ownerId: string, slot: number, callId: string): ReleaseCommand => ({
  streamId: `slot-${scope}.${ownerId}_${slot}`,
  command: { type: 'FreeSlot', data: { scope, ownerId, slot, callId, at } },
});
const releasePort = (gatewayId: string, port: number, callId: string): ReleaseCommand => ({
  streamId: `port-${gatewayId}_${port}`,
  command: { type: 'ReleasePort', data: { gatewayId, port, callId, quarantineSeconds: 30, at } },
});

test('a call that holds nothing: no commands', () => given({}).when(terminated('c1')).then([]));

test('a port and two slots: three commands, the slots first, the port released with the ANI quarantine', () =>
  given({
    slots: [
      { scope: 'merchant', ownerId: 'm1', slot: 1, callId: 'c1' },
      { scope: 'center', ownerId: 'cc1', slot: 2, callId: 'c1' },
    ],
    ports: [{ gatewayId: 'gw1', port: 3, callId: 'c1' }],
  })
    .when(terminated('c1'))
    .then([freeSlot('merchant', 'm1', 1, 'c1'), freeSlot('center', 'cc1', 2, 'c1'), releasePort('gw1', 3, 'c1')]));

test("a holding of another call is never released, even on the port the event names", () =>
  given({
    slots: [
      { scope: 'merchant', ownerId: 'm1', slot: 1, callId: 'c2' },
      { scope: 'merchant', ownerId: 'm1', slot: 2, callId: 'c1' },
    ],
    ports: [
      { gatewayId: 'gw1', port: 3, callId: 'c2' },
      { gatewayId: 'gw1', port: 4, callId: 'c1' },
    ],
  })
    .when(terminated('c1'))
    .then([freeSlot('merchant', 'm1', 2, 'c1'), releasePort('gw1', 4, 'c1')]));

test('only another call holds anything: no commands', () =>
  given({ slots: [{ scope: 'center', ownerId: 'cc1', slot: 1, callId: 'c2' }], ports: [{ gatewayId: 'gw1', port: 3, callId: 'c2' }] })
    .when(terminated('c1'))
    .then([]));

test('a holding known twice (the index and this process) is released once', () =>
  given({
    slots: [
      { scope: 'center', ownerId: 'cc1', slot: 1, callId: 'c1' },
      { scope: 'center', ownerId: 'cc1', slot: 1, callId: 'c1' },
    ],
    ports: [
      { gatewayId: 'gw1', port: 3, callId: 'c1' },
      { gatewayId: 'gw1', port: 3, callId: 'c1' },
    ],
  })
    .when(terminated('c1'))
    .then([freeSlot('center', 'cc1', 1, 'c1'), releasePort('gw1', 3, 'c1')]));

test('a port seized but never recorded on the call (the event names none) is released all the same', () =>
  given({ ports: [{ gatewayId: 'gw2', port: 7, callId: 'c1' }] })
    .when({ ...terminated('c1'), data: { ...terminated('c1').data, gatewayId: null, port: null } })
    .then([releasePort('gw2', 7, 'c1')]));
