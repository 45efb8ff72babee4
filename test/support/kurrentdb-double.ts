import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Timestamp } from 'google-protobuf/google/protobuf/timestamp_pb';
import { GossipService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/gossip_grpc_pb';
import * as gossipPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/gossip_pb';
import { ServerFeaturesService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_grpc_pb';
import * as featuresPb from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_pb';
import * as shared from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb';
import { Status as RpcStatus } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/status_pb';
import { StreamsService } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_grpc_pb';
import * as streams from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_pb';

/*
 * A KurrentDB double that speaks the server's real gRPC protocol (the v1 `event_store.client.*`
 * services), built on the service definitions the official Node client ships. Both halves of the client
 * talk to it: the gRPC half (appends through BatchAppend, subscriptions through Streams.Read with
 * SubscriptionOptions, ServerFeatures at first use) and the native Rust bridge (`@kurrent/bridge`), which
 * serves readStream/readAll by opening its own HTTP/2 connection and calling Streams.Read.
 *
 * The rules below are KurrentDB's, not webdial's. Sources are from the server repository
 * kurrent-io/KurrentDB (abbreviated `KDB:`), paths relative to its root:
 * - KDB:src/Protos/Grpc/streams.proto, shared.proto, serverfeatures.proto, gossip.proto — the messages.
 * - KDB:src/KurrentDB.Core/Services/Storage/StorageWriterService.cs — how a write lays out its records.
 * - KDB:src/KurrentDB.Core/Services/Storage/ReaderIndex/IndexWriter.cs (CheckCommit) — expected versions
 *   and idempotency.
 * - KDB:src/KurrentDB.Core/Services/RequestManager/Managers/{RequestManagerBase,WriteEvents}.cs — what an
 *   append answers.
 * - KDB:src/KurrentDB.Core/Services/Transport/Grpc/{Streams.Append,Streams.BatchAppend,Streams.Read,
 *   Status,WrongExpectedVersion,RpcExceptions,Constants,MetadataHelpers,ServerFeatures}.cs — the wire.
 * - KDB:src/KurrentDB.Core/Services/Storage/ReaderIndex/AllReader.cs, Data/ResolvedEvent.cs, Data/TFPos.cs
 *   — $all order and positions.
 * - KDB:src/KurrentDB.Core/Services/Transport/Enumerators/Enumerator.{AllSubscription,AllSubscriptionFiltered,
 *   StreamSubscription,ReadStreamForwards}.cs — reads and catch-up subscriptions.
 * - KDB:src/KurrentDB.Core/Services/Storage/ReaderIndex/IndexReader.cs — $maxCount / $tb on stream reads.
 * - KDB:src/KurrentDB.Core/Services/Storage/ReaderIndex/EventFilter.cs — $all filters.
 *
 * What it leaves out: security (it runs insecure, `tls=false`; credentials are ignored), persistent
 * subscriptions, projections, operations, users, soft delete (Streams.Delete), $maxAge, scavenging,
 * explicit transactions, clustering (Gossip answers with this one node as leader), and the v2 protocol
 * (MultiStreamAppend / AppendRecords; not advertised, so the client does not use them).
 */

/** One stored record of the transaction log that carries an event (a prepare with Data or StreamDelete). */
interface LogEvent {
  /**
   * The prepare's log position. KDB:StorageWriterService.cs writes every event of a write as a prepare
   * flagged `IsCommitted` (no separate commit record), and KDB:AllReader.cs then reports each such event at
   * `TFPos(prepare.LogPosition, prepare.LogPosition)`: commit position = prepare position = its own offset.
   */
  position: number;
  streamId: string;
  /** Event number in its stream (KurrentDB's "revision"); a tombstone has EventNumber.DeletedStream. */
  revision: bigint;
  eventId: string;
  type: string;
  isJson: boolean;
  data: Uint8Array;
  metadata: Uint8Array;
  /** .NET ticks since the Unix epoch (KDB:MetadataHelpers.cs writes `created` as ToTicksSinceEpoch). */
  created: bigint;
}

interface StreamState {
  events: LogEvent[];
  tombstoned: boolean;
}

/** KDB:src/KurrentDB.Core/Data/EventNumber.cs: DeletedStream = long.MaxValue. */
const DELETED_STREAM = 9223372036854775807n;

/** Expected version as KurrentDB encodes it (KDB:src/KurrentDB.Core/Data/ExpectedVersion.cs). */
const EXPECTED_ANY = -2;
const EXPECTED_NO_STREAM = -1;
const EXPECTED_STREAM_EXISTS = -4;

type AppendOutcome =
  | { kind: 'ok'; lastEventNumber: number; position: number }
  | { kind: 'wrong-expected-version'; actual: number }
  | { kind: 'stream-deleted' };

/**
 * Size on disk of a log-format-v2 prepare record, with its length prefix and suffix
 * (KDB:src/KurrentDB.Core/TransactionLog/LogRecords/PrepareLogRecord.cs, ComputeSizeOnDisk). Positions in
 * the log are byte offsets, so they advance by this much per event.
 */
const prepareSize = (streamId: string, type: string, data: Uint8Array, metadata: Uint8Array): number => {
  const str = (s: string) => {
    const n = Buffer.byteLength(s, 'utf8');
    return n === 0 ? 1 : n + Math.floor(Math.log2(n) / 7) + 1; // ULEB128 length prefix
  };
  const baseSize = 1 + 1 + 8; // record type, version, log position
  return 2 * 4 + baseSize + 2 /* flags */ + 8 /* transaction position */ + 4 /* offset */ + 8 /* expected version */ +
    str(streamId) + 16 + 16 + 8 + str(type) + 4 + data.length + 4 + metadata.length;
};

/** Where the first record after a fresh node's system epoch record starts (its size is not modelled). */
const EPOCH_RECORD_END = 128;

/** `$$<stream>` is a stream's metadata stream (KDB:src/KurrentDB.Core/Services/SystemStreams.cs, MetastreamOf). */
const metastreamOf = (stream: string) => `$$${stream}`;

/** .NET ticks (100 ns) since the Unix epoch. */
const ticksNow = (): bigint => BigInt(Date.now()) * 10_000n;

interface Filter {
  on: 'stream' | 'type';
  prefixes: string[];
  regex: RegExp | null;
}

type Listener = () => void;

/** Options for {@link KurrentDbDouble.start}. */
export interface KurrentDbDoubleOptions {
  /** 0 (default) picks a free port. */
  port?: number;
}

/**
 * An in-memory KurrentDB that the real `@kurrent/kurrentdb-client` connects to. `url` is a connection
 * string for it. `calls` counts the RPCs it served by method path, so a test can show which path a
 * client operation really took.
 */
export class KurrentDbDouble {
  readonly calls = new Map<string, number>();
  /** Writes decided, by the RPC that carried them (one BatchAppend call carries many). */
  readonly writes = { Append: 0, BatchAppend: 0 };
  private readonly log: LogEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private readonly listeners = new Set<Listener>();
  /** Writer checkpoint: the next free byte of the transaction log. */
  private writerCheckpoint = 0;
  private readonly instanceId = randomUUID();

  private server: grpc.Server | null = null;

  private constructor(readonly port: number) {}

  get url(): string {
    return `kurrentdb://127.0.0.1:${this.port}?tls=false`;
  }

  static async start(options: KurrentDbDoubleOptions = {}): Promise<KurrentDbDouble> {
    const { server, port } = await KurrentDbDouble.listen(options.port ?? 0);
    const double = new KurrentDbDouble(port);
    double.seed();
    double.server = server;
    double.register(server);
    return double;
  }

  private static async listen(port: number): Promise<{ server: grpc.Server; port: number }> {
    const server = new grpc.Server();
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return { server, port: bound };
  }

  /** Stops serving: open calls are cut (clients see UNAVAILABLE or CANCELLED), as when a node goes away. Keeps the data. */
  async stop(): Promise<void> {
    this.listeners.clear();
    // forceShutdown destroys every HTTP/2 session: in-flight calls end as they do when a node dies.
    this.server?.forceShutdown();
    this.server = null;
  }

  /** Serves again on the same port with the same log: a node restarted on its data. */
  async restart(): Promise<void> {
    if (this.server) return;
    const { server } = await KurrentDbDouble.listen(this.port);
    this.server = server;
    this.register(server);
  }

  /**
   * A fresh node is not empty. Its first records are system ones: the epoch record, then an
   * `$epoch-information` event (KDB:src/KurrentDB.Core/Services/Storage/EpochManager/EpochManager.cs writes it
   * as a SingleWrite|IsCommitted|IsJson prepare), and the default users the user-management service creates
   * on first start: a `$UserCreated` event in `$user-admin` / `$user-ops`, then a `$User` event naming
   * the login in `$users` (KDB:src/KurrentDB.Core/Authentication/InternalAuthentication/UserManagementService.cs;
   * the ACL metadata it writes first is left out). Seeding them
   * means an application's first event never sits at position 0 and $all always holds events not its own.
   */
  private seed(): void {
    this.writerCheckpoint = EPOCH_RECORD_END; // the system epoch record at position 0 (not an event)
    const json = (o: unknown) => Buffer.from(JSON.stringify(o));
    this.commit('$epoch-information', [{ id: randomUUID(), type: '$epoch-information', isJson: true, data: json({ epochNumber: 0 }), metadata: new Uint8Array() }]);
    for (const user of ['admin', 'ops']) {
      this.commit(`$user-${user}`, [{ id: randomUUID(), type: '$UserCreated', isJson: true, data: json({ loginName: user }), metadata: new Uint8Array() }]);
      this.commit('$users', [{ id: randomUUID(), type: '$User', isJson: false, data: Buffer.from(user), metadata: new Uint8Array() }]);
    }
  }

  private count(path: string): void {
    this.calls.set(path, (this.calls.get(path) ?? 0) + 1);
  }

  private register(server: grpc.Server): void {

    server.addService(ServerFeaturesService, {
      getSupportedMethods: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<featuresPb.SupportedMethods>) => {
        this.count('/event_store.client.server_features.ServerFeatures/GetSupportedMethods');
        // KDB:ServerFeatures.cs lists every mapped gRPC method, lower-cased, with these features: Read has
        // "position" and "events", BatchAppend has "deadline_duration". Only what this double serves is listed.
        const methods = new featuresPb.SupportedMethods();
        const add = (service: string, method: string, features: string[] = []) => {
          const m = new featuresPb.SupportedMethod();
          m.setServiceName(service);
          m.setMethodName(method);
          m.setFeaturesList(features);
          methods.addMethods(m);
        };
        add('event_store.client.streams.streams', 'read', ['position', 'events']);
        add('event_store.client.streams.streams', 'append');
        add('event_store.client.streams.streams', 'batchappend', ['deadline_duration']);
        add('event_store.client.streams.streams', 'tombstone');
        add('event_store.client.gossip.gossip', 'read');
        add('event_store.client.server_features.serverfeatures', 'getsupportedmethods');
        methods.setEventStoreServerVersion('25.1.0');
        cb(null, methods);
      },
    });

    server.addService(GossipService, {
      read: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<gossipPb.ClusterInfo>) => {
        this.count('/event_store.client.gossip.Gossip/Read');
        // A single node answers gossip with itself as the alive leader (KDB:Services/Transport/Grpc/Gossip.Read.cs).
        const info = new gossipPb.ClusterInfo();
        const member = new gossipPb.MemberInfo();
        const id = new shared.UUID();
        id.setString(this.instanceId);
        member.setInstanceId(id);
        member.setTimeStamp(String(ticksNow()));
        member.setState(gossipPb.MemberInfo.VNodeState.LEADER);
        member.setIsAlive(true);
        const endpoint = new gossipPb.EndPoint();
        endpoint.setAddress('127.0.0.1');
        endpoint.setPort(this.port);
        member.setHttpEndPoint(endpoint);
        info.addMembers(member);
        cb(null, info);
      },
    });

    server.addService(StreamsService, {
      read: (call: grpc.ServerWritableStream<streams.ReadReq, streams.ReadResp>) => this.read(call),
      append: (call: grpc.ServerReadableStream<streams.AppendReq, streams.AppendResp>, cb: grpc.sendUnaryData<streams.AppendResp>) => this.appendRpc(call, cb),
      batchAppend: (call: grpc.ServerDuplexStream<streams.BatchAppendReq, streams.BatchAppendResp>) => this.batchAppend(call),
      tombstone: (call: grpc.ServerUnaryCall<streams.TombstoneReq, streams.TombstoneResp>, cb: grpc.sendUnaryData<streams.TombstoneResp>) => this.tombstone(call, cb),
      delete: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb({ code: grpc.status.UNIMPLEMENTED, details: 'soft delete is not implemented by the KurrentDB double' }),
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  /**
   * Decides an append the way KDB:IndexWriter.cs `CheckCommit` does, then writes it the way
   * KDB:StorageWriterService.cs does. Returns the outcome the request manager reports.
   */
  private appendEvents(streamId: string, expected: number, events: { id: string; type: string; isJson: boolean; data: Uint8Array; metadata: Uint8Array }[]): AppendOutcome {
    const state = this.streams.get(streamId);
    const cur = state && state.events.length > 0 ? Number(state.events[state.events.length - 1]!.revision) : -1;
    const fail = (actual: number): AppendOutcome => ({ kind: 'wrong-expected-version', actual });

    if (state?.tombstoned) {
      // CheckCommit: appending events to a hard-deleted stream fails whatever the expected version; the
      // request manager reports a consistency failure on a tombstoned stream as StreamDeleted
      // (KDB:RequestManagerBase.cs, Handle(ConsistencyChecksFailed)). An empty write with Any/NoStream passes.
      if (events.length > 0 || !(expected === EXPECTED_ANY || expected === EXPECTED_NO_STREAM)) return { kind: 'stream-deleted' };
      return { kind: 'ok', lastEventNumber: cur, position: this.emptyWrite() };
    }
    if (expected === EXPECTED_STREAM_EXISTS && cur < 0) {
      // StreamExists on a stream without events passes only when its metadata stream exists (CheckCommit).
      const meta = this.streams.get(metastreamOf(streamId));
      if (!meta || meta.events.length === 0) return fail(cur);
    }
    const stored = state?.events ?? [];
    if (expected === EXPECTED_ANY || expected === EXPECTED_STREAM_EXISTS) {
      // Weak idempotency (CheckCommit): if the write's events are already in the stream, in order, the write
      // succeeds again without writing; if only a later part of them is there, it is "corrupted
      // idempotency", which the request manager reports as a consistency failure.
      // (The server looks only in a cache of recently committed events; the double looks in the whole stream.)
      const byId = new Map(stored.map((e) => [e.eventId, e]));
      const found = events.map((e) => byId.get(e.id));
      if (found.length > 0 && found[0]) {
        if (found.some((f) => !f)) return fail(cur);
        const last = found[found.length - 1]!;
        return { kind: 'ok', lastEventNumber: Number(last.revision), position: last.position };
      }
      return this.write(streamId, cur, events);
    }
    // Strong idempotency (CheckCommit): expected version N below the current one succeeds only when the events
    // N+1.. carry exactly these ids; the first mismatch is WrongExpectedVersion.
    if (expected < cur) {
      if (events.length === 0) return fail(cur);
      for (const [i, e] of events.entries()) {
        const at = stored[expected + 1 + i];
        if (!at || at.eventId !== e.id) return fail(cur);
      }
      const last = stored[expected + events.length]!;
      return { kind: 'ok', lastEventNumber: Number(last.revision), position: last.position };
    }
    if (expected > cur) return fail(cur);
    return this.write(streamId, cur, events);
  }

  /** An empty write still writes one empty prepare (KDB:StorageWriterService.cs), so the log moves on. */
  private emptyWrite(): number {
    const position = this.writerCheckpoint;
    this.writerCheckpoint += prepareSize('', '', new Uint8Array(), new Uint8Array());
    return position;
  }

  private write(streamId: string, cur: number, events: { id: string; type: string; isJson: boolean; data: Uint8Array; metadata: Uint8Array }[]): AppendOutcome {
    if (events.length === 0) return { kind: 'ok', lastEventNumber: cur, position: this.emptyWrite() };
    const position = this.commit(streamId, events);
    return { kind: 'ok', lastEventNumber: cur + events.length, position };
  }

  /**
   * Writes the prepares of one write back to back and makes them visible at once. Returns the log position
   * of the last one: the request manager answers with the CommitIndexed position, which the storage chaser
   * takes from the TransactionEnd prepare (KDB:StorageChaser.cs, ProcessPrepareRecord →
   * KDB:RequestManagerBase.cs Handle(CommitIndexed) → KDB:WriteEvents.cs, CommitPosition used for both).
   */
  private commit(streamId: string, events: { id: string; type: string; isJson: boolean; data: Uint8Array; metadata: Uint8Array }[]): number {
    let state = this.streams.get(streamId);
    if (!state) this.streams.set(streamId, (state = { events: [], tombstoned: false }));
    const created = ticksNow();
    let last = -1;
    for (const e of events) {
      const record: LogEvent = {
        position: this.writerCheckpoint,
        streamId,
        revision: BigInt(state.events.length),
        eventId: e.id,
        type: e.type,
        isJson: e.isJson,
        data: e.data,
        metadata: e.metadata,
        created,
      };
      this.writerCheckpoint += prepareSize(streamId, e.type, e.data, e.metadata);
      state.events.push(record);
      this.log.push(record);
      last = record.position;
    }
    for (const l of [...this.listeners]) l();
    return last;
  }

  private static expectedFromAppendOptions(o: streams.AppendReq.Options): number {
    switch (o.getExpectedStreamRevisionCase()) {
      case streams.AppendReq.Options.ExpectedStreamRevisionCase.REVISION:
        return Number(o.getRevision());
      case streams.AppendReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
        return EXPECTED_NO_STREAM;
      case streams.AppendReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
        return EXPECTED_STREAM_EXISTS;
      default:
        return EXPECTED_ANY;
    }
  }

  private static proposed(m: streams.AppendReq.ProposedMessage | streams.BatchAppendReq.ProposedMessage) {
    const meta = m.getMetadataMap();
    // KDB:MetadataHelpers.cs ParseGrpcMetadata: `type` and `content-type` are required; JSON iff
    // content-type is application/json.
    const type = meta.get('type');
    const contentType = meta.get('content-type');
    if (type === undefined) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required Metadata Property \'type\' is missing', { exception: 'missing-required-metadata-property', 'required-metadata-properties': 'type' });
    if (contentType === undefined) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Required Metadata Property \'content-type\' is missing', { exception: 'missing-required-metadata-property', 'required-metadata-properties': 'content-type' });
    return { id: uuidToString(m.getId()), type, isJson: contentType === 'application/json', data: m.getData_asU8(), metadata: m.getCustomMetadata_asU8() };
  }

  /** Streams.Append: one options message, then the events; answered once (KDB:Streams.Append.cs). */
  private appendRpc(call: grpc.ServerReadableStream<streams.AppendReq, streams.AppendResp>, cb: grpc.sendUnaryData<streams.AppendResp>): void {
    this.count('/event_store.client.streams.Streams/Append');
    let options: streams.AppendReq.Options | undefined;
    const events: ReturnType<typeof KurrentDbDouble.proposed>[] = [];
    let failed = false;
    call.on('data', (req: streams.AppendReq) => {
      if (failed) return;
      try {
        if (req.hasOptions()) options = req.getOptions();
        else if (req.hasProposedMessage()) events.push(KurrentDbDouble.proposed(req.getProposedMessage()!));
      } catch (e) {
        failed = true;
        cb(e as grpc.ServiceError);
      }
    });
    call.on('end', () => {
      if (failed) return;
      if (!options) return cb(rpcError(grpc.status.INVALID_ARGUMENT, 'Options were not provided.'));
      const streamId = Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      const expected = KurrentDbDouble.expectedFromAppendOptions(options);
      this.writes.Append++;
      const outcome = this.appendEvents(streamId, expected, events);
      const resp = new streams.AppendResp();
      switch (outcome.kind) {
        case 'ok': {
          const s = new streams.AppendResp.Success();
          if (outcome.lastEventNumber === -1) s.setNoStream(new shared.Empty());
          else s.setCurrentRevision(String(outcome.lastEventNumber));
          const p = new streams.AppendResp.Position();
          p.setCommitPosition(String(outcome.position));
          p.setPreparePosition(String(outcome.position));
          s.setPosition(p);
          resp.setSuccess(s);
          return cb(null, resp);
        }
        case 'wrong-expected-version': {
          // Streams.Append answers WrongExpectedVersion in the response (not as an error), filling both the
          // current fields and the 20.6.0 ones (KDB:Streams.Append.cs, HandleWriteEventsCompleted).
          const w = new streams.AppendResp.WrongExpectedVersion();
          const C = streams.AppendReq.Options.ExpectedStreamRevisionCase;
          switch (options.getExpectedStreamRevisionCase()) {
            case C.ANY:
              w.setExpectedAny(new shared.Empty());
              w.setAny2060(new shared.Empty());
              break;
            case C.STREAM_EXISTS:
              w.setExpectedStreamExists(new shared.Empty());
              w.setStreamExists2060(new shared.Empty());
              break;
            case C.NO_STREAM:
              w.setExpectedNoStream(new shared.Empty());
              // The server also sets the deprecated expected_revision_20_6_0 to ulong.MaxValue here; the
              // generated JS types that field as a number, which cannot hold 2^64-1, so the double leaves it out.
              break;
            default:
              w.setExpectedRevision(String(expected));
              w.setExpectedRevision2060(expected);
          }
          if (outcome.actual === -1) {
            w.setCurrentNoStream(new shared.Empty());
            w.setNoStream2060(new shared.Empty());
          } else {
            w.setCurrentRevision(String(outcome.actual));
            w.setCurrentRevision2060(outcome.actual);
          }
          resp.setWrongExpectedVersion(w);
          return cb(null, resp);
        }
        case 'stream-deleted':
          return cb(streamDeletedError(streamId));
      }
    });
    call.on('error', () => undefined);
  }

  /**
   * Streams.BatchAppend: a bidirectional stream of writes told apart by correlation id; the first chunk
   * carries the options, `is_final` closes a write, and each write is answered once on the same stream,
   * with errors as a google.rpc.Status inside the response (KDB:Streams.BatchAppend.cs).
   */
  private batchAppend(call: grpc.ServerDuplexStream<streams.BatchAppendReq, streams.BatchAppendResp>): void {
    this.count('/event_store.client.streams.Streams/BatchAppend');
    const pending = new Map<string, { streamId: string; options: streams.BatchAppendReq.Options; events: ReturnType<typeof KurrentDbDouble.proposed>[] }>();
    const handle = (req: streams.BatchAppendReq): void => {
      const correlation = req.getCorrelationId();
      const key = uuidToString(correlation);
      const answer = (streamId: string, fill: (r: streams.BatchAppendResp) => void) => {
        const resp = new streams.BatchAppendResp();
        resp.setCorrelationId(correlation);
        const sid = new shared.StreamIdentifier();
        sid.setStreamName(Buffer.from(streamId, 'utf8'));
        resp.setStreamIdentifier(sid);
        fill(resp);
        call.write(resp);
      };
      const options = req.getOptions();
      if (options) {
        if (!options.getStreamIdentifier()) {
          answer('', (r) => r.setError(status(3, 'BadRequest', 'event_store.client.BadRequest', badRequest('Required field StreamIdentifier not set.'))));
          return;
        }
        if (!pending.has(key)) pending.set(key, { streamId: Buffer.from(options.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8'), options, events: [] });
      }
      const write = pending.get(key);
      if (!write) return; // KDB:Streams.BatchAppend.cs ignores chunks of an unknown correlation id
      try {
        write.events.push(...req.getProposedMessagesList().map((m) => KurrentDbDouble.proposed(m)));
      } catch (e) {
        pending.delete(key);
        answer(write.streamId, (r) => r.setError(status(3, 'BadRequest', 'event_store.client.BadRequest', badRequest((e as Error).message))));
        return;
      }
      if (!req.getIsFinal()) return;
      pending.delete(key);
      const O = streams.BatchAppendReq.Options.ExpectedStreamPositionCase;
      const expected =
        write.options.getExpectedStreamPositionCase() === O.STREAM_POSITION ? Number(write.options.getStreamPosition())
        : write.options.getExpectedStreamPositionCase() === O.NO_STREAM ? EXPECTED_NO_STREAM
        : write.options.getExpectedStreamPositionCase() === O.STREAM_EXISTS ? EXPECTED_STREAM_EXISTS
        : EXPECTED_ANY;
      this.writes.BatchAppend++;
      const outcome = this.appendEvents(write.streamId, expected, write.events);
      answer(write.streamId, (r) => {
        switch (outcome.kind) {
          case 'ok': {
            // BatchAppendResp.Success.Completed (KDB:BatchAppendResp.cs): the position when both are >= 0,
            // the current revision, or no_stream for -1.
            const s = new streams.BatchAppendResp.Success();
            if (outcome.lastEventNumber >= 0) s.setCurrentRevision(String(outcome.lastEventNumber));
            else s.setNoStream(new GoogleEmpty());
            const p = new shared.AllStreamPosition();
            p.setCommitPosition(String(outcome.position));
            p.setPreparePosition(String(outcome.position));
            s.setPosition(p);
            r.setSuccess(s);
            return;
          }
          case 'wrong-expected-version': {
            // Status.WrongExpectedVersion (KDB:Status.cs): code AlreadyExists (6), message
            // "WrongExpectedVersion", details event_store.client.WrongExpectedVersion built by
            // KDB:WrongExpectedVersion.cs: current revision or current_no_stream; expected position, or
            // expected_any / expected_no_stream / expected_stream_exists.
            const w = new shared.WrongExpectedVersion();
            if (outcome.actual === -1) w.setCurrentNoStream(new GoogleEmpty());
            else w.setCurrentStreamRevision(String(outcome.actual));
            if (expected === EXPECTED_ANY) w.setExpectedAny(new GoogleEmpty());
            else if (expected === EXPECTED_NO_STREAM) w.setExpectedNoStream(new GoogleEmpty());
            else if (expected === EXPECTED_STREAM_EXISTS) w.setExpectedStreamExists(new GoogleEmpty());
            else w.setExpectedStreamPosition(String(expected));
            r.setError(status(6, 'WrongExpectedVersion', 'event_store.client.WrongExpectedVersion', w.serializeBinary()));
            return;
          }
          case 'stream-deleted': {
            // Status.StreamDeleted (KDB:Status.cs): code NotFound (5), details event_store.client.StreamDeleted.
            const d = new shared.StreamDeleted();
            const sid = new shared.StreamIdentifier();
            sid.setStreamName(Buffer.from(write.streamId, 'utf8'));
            d.setStreamIdentifier(sid);
            r.setError(status(5, 'StreamDeleted', 'event_store.client.StreamDeleted', d.serializeBinary()));
            return;
          }
        }
      });
    };
    call.on('data', (req: streams.BatchAppendReq) => {
      try {
        handle(req);
      } catch (e) {
        // The server answers an unexpected failure with Status.InternalError (code Internal, details Empty)
        // for that write rather than leaving the client waiting (KDB:Status.cs, Streams.BatchAppend.cs).
        const resp = new streams.BatchAppendResp();
        resp.setCorrelationId(req.getCorrelationId());
        resp.setError(status(13, (e as Error).message, 'google.protobuf.Empty', new GoogleEmpty().serializeBinary()));
        call.write(resp);
      }
    });
    call.on('end', () => {
      call.end();
    });
    call.on('error', () => undefined); // a client gone mid-stream: nothing to answer
  }

  /**
   * Streams.Tombstone (hard delete): writes a StreamDelete prepare of type `$streamDeleted` with event number
   * DeletedStream (KDB:StorageWriterService.cs, WriteDelete; KDB:SystemEventTypes.StreamDeleted). Afterwards
   * appends fail with StreamDeleted and reads throw stream-deleted.
   */
  private tombstone(call: grpc.ServerUnaryCall<streams.TombstoneReq, streams.TombstoneResp>, cb: grpc.sendUnaryData<streams.TombstoneResp>): void {
    this.count('/event_store.client.streams.Streams/Tombstone');
    const o = call.request.getOptions()!;
    const streamId = Buffer.from(o.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
    const C = streams.TombstoneReq.Options.ExpectedStreamRevisionCase;
    const expected = o.getExpectedStreamRevisionCase() === C.REVISION ? Number(o.getRevision())
      : o.getExpectedStreamRevisionCase() === C.NO_STREAM ? EXPECTED_NO_STREAM
      : o.getExpectedStreamRevisionCase() === C.STREAM_EXISTS ? EXPECTED_STREAM_EXISTS
      : EXPECTED_ANY;
    const state = this.streams.get(streamId);
    if (state?.tombstoned) return cb(streamDeletedError(streamId));
    const cur = state && state.events.length > 0 ? Number(state.events[state.events.length - 1]!.revision) : -1;
    const ok = expected === EXPECTED_ANY || (expected === EXPECTED_STREAM_EXISTS ? cur >= 0 : expected === cur);
    if (!ok) {
      // Streams.Delete/Tombstone raise RpcExceptions.WrongExpectedVersion: FailedPrecondition with
      // `exception: wrong-expected-version` and the versions in trailers (KDB:RpcExceptions.cs).
      return cb(rpcError(grpc.status.FAILED_PRECONDITION, `Delete failed due to WrongExpectedVersion. Stream: ${streamId}, Expected version: ${expected}, Actual version: ${cur}`, {
        exception: 'wrong-expected-version', 'stream-name': streamId, 'expected-version': String(expected), 'actual-version': String(cur),
      }));
    }
    const position = this.writerCheckpoint;
    const record: LogEvent = { position, streamId, revision: DELETED_STREAM, eventId: randomUUID(), type: '$streamDeleted', isJson: false, data: new Uint8Array(), metadata: new Uint8Array(), created: ticksNow() };
    this.writerCheckpoint += prepareSize(streamId, record.type, record.data, record.metadata);
    if (!state) this.streams.set(streamId, { events: [], tombstoned: true });
    else state.tombstoned = true;
    this.log.push(record);
    for (const l of [...this.listeners]) l();
    const resp = new streams.TombstoneResp();
    const p = new streams.TombstoneResp.Position();
    p.setCommitPosition(String(position));
    p.setPreparePosition(String(position));
    resp.setPosition(p);
    cb(null, resp);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads and subscriptions

  /** The events a stream read may return: $maxCount and $tb from the stream's metadata (KDB:IndexReader.cs). */
  private visibleEvents(streamId: string): LogEvent[] {
    const state = this.streams.get(streamId);
    if (!state) return [];
    const meta = this.streams.get(metastreamOf(streamId))?.events.at(-1);
    let min = 0;
    if (meta && meta.isJson) {
      try {
        const m = JSON.parse(Buffer.from(meta.data).toString('utf8')) as { $maxCount?: number; $tb?: number };
        const last = state.events.length - 1;
        if (typeof m.$maxCount === 'number') min = Math.max(min, last - m.$maxCount + 1); // minEventNumber = last - MaxCount + 1
        if (typeof m.$tb === 'number') min = Math.max(min, m.$tb); // TruncateBefore
      } catch {
        // KurrentDB treats unparsable metadata as no metadata (StreamMetadata.TryFromJsonBytes).
      }
    }
    return state.events.slice(min);
  }

  private read(call: grpc.ServerWritableStream<streams.ReadReq, streams.ReadResp>): void {
    this.count('/event_store.client.streams.Streams/Read');
    const o = call.request.getOptions();
    const fail = (e: grpc.ServiceError): void => void call.emit('error', e);
    if (!o) return fail(rpcError(grpc.status.INVALID_ARGUMENT, 'Options were not provided.'));
    // KDB:Streams.Read.cs requires the UUID option and picks the enumerator from (stream|all, count|subscription,
    // direction, filter); anything else is an invalid combination.
    if (!o.getUuidOption()) return fail(rpcError(grpc.status.INVALID_ARGUMENT, "Required argument 'uuidOption' was not provided."));
    const structured = o.getUuidOption()!.getContentCase() === streams.ReadReq.Options.UUIDOption.ContentCase.STRUCTURED;
    const backwards = o.getReadDirection() === streams.ReadReq.Options.ReadDirection.BACKWARDS;
    const subscription = o.getCountOptionCase() === streams.ReadReq.Options.CountOptionCase.SUBSCRIPTION;
    const filter = o.hasFilter() ? toFilter(o.getFilter()!) : null;
    const send = (resp: streams.ReadResp): void => void call.write(resp);
    const event = (e: LogEvent): void => send(readEvent(e, structured));

    if (o.getStreamOptionCase() === streams.ReadReq.Options.StreamOptionCase.STREAM) {
      const so = o.getStream()!;
      const streamId = Buffer.from(so.getStreamIdentifier()!.getStreamName_asU8()).toString('utf8');
      if (filter) return fail(rpcError(grpc.status.INVALID_ARGUMENT, 'The combination of stream, filter is invalid.'));
      if (subscription) {
        if (backwards) return fail(rpcError(grpc.status.INVALID_ARGUMENT, 'Subscriptions read forwards only.'));
        return this.subscribeStream(call, streamId, so, structured);
      }
      const state = this.streams.get(streamId);
      // A tombstoned stream throws stream-deleted (ReadResponseException.StreamDeleted →
      // RpcExceptions.StreamDeleted: FailedPrecondition, `exception: stream-deleted`, `stream-name`).
      if (state?.tombstoned) return fail(streamDeletedError(streamId));
      // A stream that was never written answers one StreamNotFound message, not an error
      // (KDB:Enumerator.ReadStreamForwards.cs, ReadStreamResult.NoStream).
      if (!state || state.events.length === 0) {
        const nf = new streams.ReadResp.StreamNotFound();
        nf.setStreamIdentifier(so.getStreamIdentifier());
        const resp = new streams.ReadResp();
        resp.setStreamNotFound(nf);
        send(resp);
        return void call.end();
      }
      const visible = this.visibleEvents(streamId);
      const max = BigInt(o.getCount());
      const R = streams.ReadReq.Options.StreamOptions.RevisionOptionCase;
      const last = BigInt(state.events.length - 1);
      const from = so.getRevisionOptionCase() === R.REVISION ? BigInt(so.getRevision()) : so.getRevisionOptionCase() === R.END ? (backwards ? last : last + 1n) : backwards ? -1n : 0n;
      const selected = backwards
        ? visible.filter((e) => e.revision <= from).reverse() // backwards from R includes R
        : visible.filter((e) => e.revision >= from); // forwards from R includes R
      // With control_option.compatibility >= 1 (the native bridge sends 1), a stream read also reports the
      // stream's bounds: first_stream_position when a forward read finds nothing where it started (the
      // stream's next event number), last_stream_position at the end (KDB:Enumerator.ReadStreamForwards.cs,
      // Enumerator.ReadStreamBackwards.cs).
      const compatibility = o.getControlOption()?.getCompatibility() ?? 0;
      if (compatibility >= 1 && !backwards && selected.length === 0) {
        const nextEventNumber = from > last ? last + 1n : (visible[0]?.revision ?? last + 1n);
        if (nextEventNumber !== from) {
          const resp = new streams.ReadResp();
          resp.setFirstStreamPosition(nextEventNumber.toString());
          send(resp);
        }
      }
      let n = 0n;
      for (const e of selected) {
        if (n++ >= max) break;
        event(e);
      }
      if (compatibility >= 1) {
        const resp = new streams.ReadResp();
        resp.setLastStreamPosition(last.toString());
        send(resp);
      }
      return void call.end();
    }

    if (o.getStreamOptionCase() !== streams.ReadReq.Options.StreamOptionCase.ALL) return fail(rpcError(grpc.status.INVALID_ARGUMENT, 'No stream option.'));
    const ao = o.getAll()!;
    const A = streams.ReadReq.Options.AllOptions.AllOptionCase;
    if (subscription) {
      if (backwards) return fail(rpcError(grpc.status.INVALID_ARGUMENT, 'Subscriptions read forwards only.'));
      const from = ao.getAllOptionCase() === A.POSITION ? toTfPos(ao.getPosition()!) : ao.getAllOptionCase() === A.END ? 'end' : 'start';
      return this.subscribeAll(call, from, filter, o.hasFilter() ? o.getFilter()!.getCheckpointintervalmultiplier() : 0, structured);
    }
    const max = BigInt(o.getCount());
    const allowed = (e: LogEvent) => (filter ? matches(filter, e) : defaultAllFilter(e));
    let selected: LogEvent[];
    if (!backwards) {
      // Forwards from a position is inclusive: AllReader keeps records with TFPos(prepare, prepare) >= pos.
      const from = ao.getAllOptionCase() === A.POSITION ? toTfPos(ao.getPosition()!) : ao.getAllOptionCase() === A.END ? null : { commit: 0, prepare: 0 };
      if (from && ao.getAllOptionCase() === A.POSITION && !this.validPosition(from)) return fail(invalidPosition());
      selected = from === null ? [] : this.log.filter((e) => compareTfPos({ commit: e.position, prepare: e.position }, from) >= 0);
    } else {
      // Backwards from a position is exclusive: AllReader keeps records whose post-position is <= pos.
      const from = ao.getAllOptionCase() === A.POSITION ? toTfPos(ao.getPosition()!) : ao.getAllOptionCase() === A.START ? null : { commit: Number.MAX_SAFE_INTEGER, prepare: Number.MAX_SAFE_INTEGER };
      if (from && ao.getAllOptionCase() === A.POSITION && !this.validPosition(from)) return fail(invalidPosition());
      selected = from === null ? [] : this.log.filter((e) => compareTfPos({ commit: this.postPosition(e), prepare: this.postPosition(e) }, from) <= 0).reverse();
    }
    let n = 0n;
    for (const e of selected) {
      if (!allowed(e)) continue;
      if (n++ >= max) break;
      event(e);
    }
    call.end();
  }

  /** The byte after a record: the next record's position, or the writer checkpoint for the last one. */
  private postPosition(e: LogEvent): number {
    const i = this.log.indexOf(e);
    return i + 1 < this.log.length ? this.log[i + 1]!.position : this.writerCheckpoint;
  }

  /**
   * A position a client sends must be a record boundary with commit = prepare for this kind of log (or the
   * end of the log); the server answers anything else with InvalidPosition when it cannot read a record
   * there (KDB:ReadResponseException.InvalidPosition → RpcExceptions.InvalidPositionException).
   */
  private validPosition(p: { commit: number; prepare: number }): boolean {
    if (p.commit !== p.prepare) return false;
    return p.commit === this.writerCheckpoint || p.commit < EPOCH_RECORD_END || this.log.some((e) => e.position === p.commit);
  }

  /**
   * A catch-up subscription to $all (KDB:Enumerator.AllSubscription.cs / AllSubscriptionFiltered.cs):
   * confirmation first; then every event strictly after the start position ("we should send on events
   * _after_ this"), read from the log; once the reader reaches the end, `caught_up` with the last position
   * (and, when filtered, a checkpoint); then live events as they commit, still strictly after what was sent.
   * Writes respect the HTTP/2 flow control: a slow client makes the subscription fall behind and catch up
   * again from the log, it never loses or reorders an event.
   */
  private subscribeAll(
    call: grpc.ServerWritableStream<streams.ReadReq, streams.ReadResp>,
    from: { commit: number; prepare: number } | 'start' | 'end',
    filter: Filter | null,
    checkpointMultiplier: number,
    structured: boolean,
  ): void {
    // A start position at or past the end is not an error: the enumerator goes live and skips every event
    // at or before it ("the client specified a checkpoint for events that don't exist yet and so is not
    // interested in them", GoLive in KDB:Enumerator.AllSubscriptionFiltered.cs).
    const after = typeof from === 'object' ? from.commit : -1;
    const allowed = (e: LogEvent) => e.position > after && (filter ? matches(filter, e) : defaultAllFilter(e));
    // index of the next log record to consider
    let next = from === 'start' ? 0 : from === 'end' ? this.log.length : this.log.findIndex((e) => e.position > from.commit);
    if (next < 0) next = this.log.length;
    let lastSent: number | null = typeof from === 'object' ? from.commit : null;
    // KDB:AllSubscriptionFiltered.cs: a checkpoint every checkpointIntervalMultiplier × maxSearchWindow
    // considered events; the window defaults to the read batch size (32, KDB:Enumerator.cs DefaultReadBatchSize).
    const checkpointEvery = filter ? Math.max(1, checkpointMultiplier) * 32 : 0;
    let considered = 0;
    this.runSubscription(call, () => {
      const out: streams.ReadResp[] = [];
      while (next < this.log.length) {
        const e = this.log[next++]!;
        considered++;
        if (allowed(e)) {
          out.push(readEvent(e, structured));
          lastSent = e.position;
        }
        if (checkpointEvery && considered % checkpointEvery === 0) out.push(checkpoint(e.position));
        if (out.length >= 32) break;
      }
      return { batch: out, atEnd: next >= this.log.length };
    }, () => {
      const caught = new streams.ReadResp.CaughtUp();
      caught.setTimestamp(Timestamp.fromDate(new Date()));
      const pos = lastSent ?? (this.log.length ? this.log[this.log.length - 1]!.position : null);
      if (pos !== null) {
        const p = new streams.ReadResp.Position();
        p.setCommitPosition(String(pos));
        p.setPreparePosition(String(pos));
        caught.setPosition(p);
      }
      const resp = new streams.ReadResp();
      resp.setCaughtUp(caught);
      // The filtered enumerator issues a checkpoint when it goes live (SendCheckpointToSubscription).
      return filter && pos !== null ? [checkpoint(pos), resp] : [resp];
    });
  }

  /**
   * A catch-up subscription to one stream (KDB:Enumerator.StreamSubscription.cs): from a revision it sends
   * the events strictly after it, from the start all of them; then caught_up; then live.
   */
  private subscribeStream(call: grpc.ServerWritableStream<streams.ReadReq, streams.ReadResp>, streamId: string, so: streams.ReadReq.Options.StreamOptions, structured: boolean): void {
    const R = streams.ReadReq.Options.StreamOptions.RevisionOptionCase;
    const state = () => this.streams.get(streamId);
    let nextRevision =
      so.getRevisionOptionCase() === R.REVISION ? BigInt(so.getRevision()) + 1n
      : so.getRevisionOptionCase() === R.END ? BigInt(state()?.events.length ?? 0)
      : 0n;
    let lastSent: bigint | null = null;
    this.runSubscription(call, () => {
      const s = state();
      if (s?.tombstoned) throw streamDeletedError(streamId);
      const events = s?.events ?? [];
      const out: streams.ReadResp[] = [];
      while (nextRevision < BigInt(events.length) && out.length < 32) {
        const e = events[Number(nextRevision++)]!;
        out.push(readEvent(e, structured));
        lastSent = e.revision;
      }
      return { batch: out, atEnd: nextRevision >= BigInt(events.length) };
    }, () => {
      const caught = new streams.ReadResp.CaughtUp();
      caught.setTimestamp(Timestamp.fromDate(new Date()));
      if (lastSent !== null) caught.setStreamRevision(String(lastSent));
      const resp = new streams.ReadResp();
      resp.setCaughtUp(caught);
      return [resp];
    });
  }

  /** The shared loop: confirm, pump batches while the client accepts them, announce caught-up once, then wait for commits. */
  private runSubscription(
    call: grpc.ServerWritableStream<streams.ReadReq, streams.ReadResp>,
    pull: () => { batch: streams.ReadResp[]; atEnd: boolean },
    caughtUp: () => streams.ReadResp[],
  ): void {
    const confirmation = new streams.ReadResp.SubscriptionConfirmation();
    confirmation.setSubscriptionId(randomUUID());
    const first = new streams.ReadResp();
    first.setConfirmation(confirmation);
    call.write(first);
    let closed = false;
    let waitingForDrain = false;
    let announced = false;
    const close = () => {
      closed = true;
      this.listeners.delete(pump);
    };
    const pump = () => {
      if (closed || waitingForDrain) return;
      try {
        for (;;) {
          const { batch, atEnd } = pull();
          let ok = true;
          for (const r of batch) ok = call.write(r) && ok;
          if (atEnd && !announced) {
            announced = true;
            for (const r of caughtUp()) ok = call.write(r) && ok;
          }
          if (!ok) {
            waitingForDrain = true;
            call.once('drain', () => {
              waitingForDrain = false;
              pump();
            });
            return;
          }
          if (atEnd) return;
        }
      } catch (e) {
        close();
        call.emit('error', e as grpc.ServiceError);
      }
    };
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);
    this.listeners.add(pump);
    setImmediate(pump);
  }
}

// -----------------------------------------------------------------------------------------------
// Wire helpers

const uuidToString = (u: shared.UUID | undefined): string => {
  if (!u) return '';
  if (u.hasStructured()) {
    const s = u.getStructured()!;
    const hex = (v: string) => (BigInt(v) & ((1n << 64n) - 1n)).toString(16).padStart(16, '0');
    const ms = hex(s.getMostSignificantBits());
    const ls = hex(s.getLeastSignificantBits());
    return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-${ms.slice(12)}-${ls.slice(0, 4)}-${ls.slice(4)}`;
  }
  return u.getString();
};

/** Uuid.ToDto (KDB:Services/Transport/Grpc/Uuid.cs): the two halves as signed 64-bit integers. */
const uuidToDto = (id: string, structured: boolean): shared.UUID => {
  const u = new shared.UUID();
  if (!structured) {
    u.setString(id);
    return u;
  }
  const hex = id.replace(/-/g, '');
  const signed = (h: string) => BigInt.asIntN(64, BigInt(`0x${h}`)).toString();
  const s = new shared.UUID.Structured();
  s.setMostSignificantBits(signed(hex.slice(0, 16)));
  s.setLeastSignificantBits(signed(hex.slice(16)));
  u.setStructured(s);
  return u;
};

/**
 * ResponseConverter.ConvertToReadEvent (KDB:Streams.Read.cs): the recorded event with its stream, revision,
 * commit and prepare positions, the `type` / `created` / `content-type` metadata (KDB:MetadataHelpers.cs),
 * the custom metadata and data as stored; and the original position's commit on the ReadEvent.
 */
const readEvent = (e: LogEvent, structured: boolean): streams.ReadResp => {
  const r = new streams.ReadResp.ReadEvent.RecordedEvent();
  r.setId(uuidToDto(e.eventId, structured));
  const sid = new shared.StreamIdentifier();
  sid.setStreamName(Buffer.from(e.streamId, 'utf8'));
  r.setStreamIdentifier(sid);
  r.setStreamRevision(e.revision.toString());
  r.setCommitPosition(String(e.position));
  r.setPreparePosition(String(e.position));
  const m = r.getMetadataMap();
  m.set('type', e.type);
  m.set('created', e.created.toString());
  m.set('content-type', e.isJson ? 'application/json' : 'application/octet-stream');
  r.setCustomMetadata(e.metadata);
  r.setData(e.data);
  const ev = new streams.ReadResp.ReadEvent();
  ev.setEvent(r);
  ev.setCommitPosition(String(e.position));
  const resp = new streams.ReadResp();
  resp.setEvent(ev);
  return resp;
};

const checkpoint = (position: number): streams.ReadResp => {
  const c = new streams.ReadResp.Checkpoint();
  c.setCommitPosition(String(position));
  c.setPreparePosition(String(position));
  c.setTimestamp(Timestamp.fromDate(new Date()));
  const resp = new streams.ReadResp();
  resp.setCheckpoint(c);
  return resp;
};

const toTfPos = (p: streams.ReadReq.Options.Position) => ({ commit: Number(p.getCommitPosition()), prepare: Number(p.getPreparePosition()) });

/** TFPos order (KDB:Data/TFPos.cs CompareTo): by commit position, then prepare position. This is $all order. */
const compareTfPos = (a: { commit: number; prepare: number }, b: { commit: number; prepare: number }) =>
  a.commit !== b.commit ? a.commit - b.commit : a.prepare - b.prepare;

const toFilter = (f: streams.ReadReq.Options.FilterOptions): Filter => {
  const F = streams.ReadReq.Options.FilterOptions.FilterCase;
  const on = f.getFilterCase() === F.EVENT_TYPE ? 'type' : 'stream';
  const expr = on === 'type' ? f.getEventType()! : f.getStreamIdentifier()!;
  // EventFilter (KDB:EventFilter.cs): a non-empty regex wins over the prefixes.
  return { on, prefixes: expr.getPrefixList(), regex: expr.getRegex() ? new RegExp(expr.getRegex()) : null };
};

const matches = (f: Filter, e: LogEvent): boolean => {
  const subject = f.on === 'type' ? e.type : e.streamId;
  return f.regex ? f.regex.test(subject) : f.prefixes.some((p) => subject.startsWith(p));
};

/**
 * Without a filter, $all reads and subscriptions skip `$epoch-information` and the $all persistent
 * subscription bookkeeping streams (KDB:EventFilter.cs, DefaultAllFilterStrategy); other system events show.
 */
const defaultAllFilter = (e: LogEvent): boolean =>
  e.streamId[0] !== '$' || !(e.streamId === '$epoch-information' || (e.streamId.startsWith('$persistentsubscription-$all::') && (e.streamId.endsWith('-checkpoint') || e.streamId.endsWith('-parked'))));

/** An RpcException as KurrentDB raises them: a status, a message, and the `exception` trailer (KDB:RpcExceptions.cs). */
const rpcError = (code: grpc.status, details: string, trailers: Record<string, string> = {}): grpc.ServiceError => {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return Object.assign(new Error(details), { code, details, metadata }) as grpc.ServiceError;
};

const streamDeletedError = (streamId: string) =>
  rpcError(grpc.status.FAILED_PRECONDITION, `Event stream '${streamId}' is deleted.`, { exception: 'stream-deleted', 'stream-name': streamId });

/** RpcExceptions.InvalidPositionException (KDB:RpcExceptions.cs): InvalidArgument. */
const invalidPosition = () => rpcError(grpc.status.INVALID_ARGUMENT, 'Trying to read from an invalid position.');

const badRequest = (message: string): Uint8Array => {
  const b = new shared.BadRequest();
  b.setMessage(message);
  return b.serializeBinary();
};

/** A google.rpc.Status with its details packed as an Any of `typeName` (KDB:Status.cs). */
const status = (code: number, message: string, typeName: string, details: Uint8Array): RpcStatus => {
  const s = new RpcStatus();
  s.setCode(code);
  s.setMessage(message);
  const any = new Any();
  any.setTypeUrl(`type.googleapis.com/${typeName}`);
  any.setValue(details);
  s.setDetails(any);
  return s;
};
