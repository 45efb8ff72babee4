import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SqliteEventStore } from '../adapters/eventstore/sqlite';
import { slotDecider, type SlotCommand, type SlotState } from '../domain/capacity/slot';
import { disableTracing, enableTracing } from '../observability/tracing';
import { CommandHandler } from './command-handler';
import { randomIds } from './ids';

const at = '2026-12-01T10:00:00.000Z';
const meta = { correlationId: 'corr-1', causationId: null, merchantId: null };
const take = (callId: string): SlotCommand => ({ type: 'TakeSlot', data: { scope: 'center', ownerId: 'cc', slot: 1, callId, at } });

describe('withTracing and tracedAppend: a command in spans, the envelope carrying the append span', () => {
  const exporter = new InMemorySpanExporter();
  const contextManager = new AsyncLocalStorageContextManager().enable();
  before(() => {
    context.setGlobalContextManager(contextManager);
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    enableTracing();
  });
  after(() => {
    disableTracing();
    trace.disable();
    context.disable();
  });

  it('one command span, named after the command once the state built it, holding the append span; events carry its traceparent', async () => {
    const store = new SqliteEventStore(':memory:');
    const handler = new CommandHandler(store, randomIds);
    await handler.handle(slotDecider, 'slot-center.cc_1', (s: SlotState) => (s.status === 'Free' ? take('a') : take('b')), meta);
    const spans = exporter.getFinishedSpans();
    const command = spans.find((s) => s.name.startsWith('command '));
    const append = spans.find((s) => s.name === 'eventstore.append');
    assert.equal(command?.name, 'command TakeSlot');
    assert.equal(command?.attributes['webdial.correlation_id'], 'corr-1');
    assert.equal(append?.parentSpanContext?.spanId, command?.spanContext().spanId, 'the append is a child of the command');
    assert.equal(append?.attributes['webdial.events'], 1);
    const [stored] = await store.readStream('slot-center.cc_1');
    assert.equal(stored?.traceparent, `00-${append!.spanContext().traceId}-${append!.spanContext().spanId}-01`);
    await store.close();
  });

  it('with tracing off, no span and no traceparent', async () => {
    disableTracing();
    exporter.reset();
    const store = new SqliteEventStore(':memory:');
    await new CommandHandler(store, randomIds).handle(slotDecider, 'slot-center.cc_1', take('a'), meta);
    assert.equal(exporter.getFinishedSpans().length, 0);
    assert.equal((await store.readStream('slot-center.cc_1'))[0]?.traceparent ?? null, null);
    enableTracing();
    await store.close();
  });
});
