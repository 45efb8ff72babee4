import { test } from 'node:test';
import { specFor } from '../shared/spec';
import { slotDecider, type SlotEvent } from './slot';

const given = specFor(slotDecider);
const data = (callId: string) => ({ scope: 'center' as const, ownerId: 'cc1', slot: 3, callId, at: '2026-11-23T10:00:00.000Z' });
const taken = (callId: string): SlotEvent => ({ type: 'SlotTaken', data: data(callId) });
const freed = (callId: string): SlotEvent => ({ type: 'SlotFreed', data: data(callId) });

test('a free slot is taken by a call', () => given([]).when({ type: 'TakeSlot', data: data('c1') }).then([taken('c1')]));
test('a slot held by another call is refused', () => given([taken('c1')]).when({ type: 'TakeSlot', data: data('c2') }).thenThrows('CONFLICT', /slot taken/));
test('taking a slot the call already holds changes nothing', () => given([taken('c1')]).when({ type: 'TakeSlot', data: data('c1') }).then([]));
test('the holder frees its slot', () => given([taken('c1')]).when({ type: 'FreeSlot', data: data('c1') }).then([freed('c1')]));
test('freeing a slot another call holds changes nothing', () => given([taken('c1')]).when({ type: 'FreeSlot', data: data('c2') }).then([]));
test('freeing a free slot changes nothing', () => given([taken('c1'), freed('c1')]).when({ type: 'FreeSlot', data: data('c1') }).then([]));
test('a freed slot is taken again', () => given([taken('c1'), freed('c1')]).when({ type: 'TakeSlot', data: data('c2') }).then([taken('c2')]));
