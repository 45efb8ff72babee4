import type { EventStore } from '../ports/event-store';
import { currentTraceparent, inSpan } from '../observability/tracing';
import type { Handle } from './command-handler';

/**
 * A span per command (tracing on; free when off): `command <type>`, named after the command once
 * it is known (a command built from the state is known only after the load), around the load, the
 * decision and the append.
 */
export const withTracing =
  (handle: Handle): Handle =>
  (decider, streamId, command, meta, answer) =>
    inSpan(`command ${decider.name}`, { attributes: { 'webdial.stream_id': streamId, 'webdial.correlation_id': meta.correlationId } }, (span) => {
      if (!span) return handle(decider, streamId, command, meta, answer);
      const named: typeof decider = {
        ...decider,
        decide: (cmd, state) => {
          span.updateName(`command ${(cmd as { type?: string }).type ?? decider.name}`);
          return decider.decide(cmd, state);
        },
      };
      return handle(named, streamId, command, meta, answer);
    });

/**
 * The store's append in its own span, the events' envelopes carrying that span's context
 * (`traceparent`: the relay and the consumers continue the trace from it).
 */
export const tracedAppend =
  (append: EventStore['append']): EventStore['append'] =>
  (streamId, events, expectedVersion) =>
    inSpan('eventstore.append', { attributes: { 'webdial.stream_id': streamId, 'webdial.events': events.length } }, () => {
      const traceparent = currentTraceparent();
      return append(streamId, traceparent ? events.map((e) => ({ ...e, traceparent })) : events, expectedVersion);
    });
