import assert from "node:assert/strict";
import { BufferedReader } from "../lib/protocol/buffered_reader.ts";
import { decodeMessage, encodeMessage, type Message } from "../lib/protocol/message_codec.ts";
import {
  ErrorCode,
  FRAME_HEADER_BYTES,
  MessageType,
  ProtocolError,
} from "../lib/protocol/protocol.ts";
import { Logger } from "../lib/runtime/log.ts";
import { AgencyClaims } from "../lib/server/agency_claims.ts";
import { AgencySession } from "../lib/server/agency_session.ts";
import type { Lottery } from "../lib/server/lottery.ts";
import type { AppendResult } from "../lib/store/bet_store.ts";
import type { BetLedger } from "../lib/store/bet_ledger.ts";
import { makeBets } from "./helpers/bets.ts";
import { ChunkedSource, joinBytes } from "./helpers/byte_io.ts";

/** Every frame written to the sink, decoded, in write order. */
class FrameSink {
  readonly #bytes: Uint8Array[] = [];

  write(bytes: Uint8Array): Promise<number> {
    this.#bytes.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }

  /** Writes made so far. */
  get writes(): number {
    return this.#bytes.length;
  }

  messages(): Message[] {
    const all = joinBytes(this.#bytes);
    const messages: Message[] = [];
    for (let at = 0; at < all.length;) {
      const length = new DataView(all.buffer, all.byteOffset + at).getUint32(3);
      const body = all.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
      messages.push(decodeMessage({ type: all[at + 2]!, body }));
      at += FRAME_HEADER_BYTES + length;
    }
    return messages;
  }
}

/** A session over `input` whose lottery stores batches with `storeBatch`. */
function _session(
  input: Uint8Array,
  sink: FrameSink,
  storeBatch: (agency: number, first: number) => Promise<AppendResult>,
): AgencySession {
  const lottery = {
    agencies: 1,
    drawId: "test-draw",
    storeBatch,
  } as unknown as Lottery;
  const ledger = {
    claim: () => Promise.resolve(),
    storedBets: () => 0,
    acceptedBets: () => 5,
    storedDigest: () => 0,
    checkpoints: () => [],
    room: () => undefined,
  } as unknown as BetLedger;
  const conn = { write: (bytes: Uint8Array) => sink.write(bytes), close: () => {} };
  return new AgencySession({
    reader: new BufferedReader(new ChunkedSource(input, 1 << 16)),
    conn,
    identity: {},
    idle: { touch: () => {}, pause: () => {}, resume: () => {} },
  }, {
    ledger,
    lottery,
    logger: new Logger("CRITICAL", () => {}),
    frameBytesMax: 1 << 16,
    shutdown: new AbortController().signal,
    agencySecrets: undefined,
    claims: new AgencyClaims(),
    metrics: undefined,
  });
}

Deno.test("AgencySession answers batches in the order it read them, even when a later one settles first", async () => {
  const wire = makeBets(1, 10).map(({ agency: _, ...bet }) => bet);
  const input = joinBytes([
    encodeMessage({ type: MessageType.hello, agency: 1 }),
    encodeMessage({ type: MessageType.batch, first: 0, bets: wire.slice(0, 5) }),
    encodeMessage({ type: MessageType.batch, first: 9, bets: wire.slice(9) }),
  ]);
  // The first batch waits at the store; the second is refused at once.
  const stored = Promise.withResolvers<AppendResult>();
  const secondAsked = Promise.withResolvers<void>();
  const sink = new FrameSink();
  const session = _session(input, sink, (_agency: number, first: number) => {
    if (first === 0) return stored.promise;
    secondAsked.resolve();
    return Promise.reject(
      new ProtocolError(ErrorCode.positionMismatch, "5 expected", {
        first,
        betIndex: 0,
        field: "",
      }),
    );
  });
  const running = session.run();
  // The second batch is refused; once every microtask of that ran (a
  // macrotask boundary), the first one is stored.
  await secondAsked.promise;
  await new Promise((resolve) => setTimeout(resolve, 0));
  stored.resolve({ duplicate: false });
  await running;
  assert.deepEqual(sink.messages().map((message) => message.type), [
    MessageType.helloAck,
    MessageType.batchAck,
    MessageType.batchNack,
  ]);
});

Deno.test("AgencySession sends the acks of batches stored together in one write", async () => {
  const wire = makeBets(1, 9).map(({ agency: _, ...bet }) => bet);
  const input = joinBytes([
    encodeMessage({ type: MessageType.hello, agency: 1 }),
    ...[0, 3, 6].map((first) =>
      encodeMessage({ type: MessageType.batch, first, bets: wire.slice(first, first + 3) })
    ),
  ]);
  // One group commit: all three batches become durable at once.
  const groupCommit = Promise.withResolvers<AppendResult>();
  let asked = 0;
  const allAsked = Promise.withResolvers<void>();
  const sink = new FrameSink();
  const session = _session(input, sink, () => {
    asked += 1;
    if (asked === 3) allAsked.resolve();
    return groupCommit.promise;
  });
  const running = session.run();
  await allAsked.promise;
  const writesBefore = sink.writes;
  groupCommit.resolve({ duplicate: false });
  await running;
  assert.deepEqual(sink.messages().map((message) => message.type), [
    MessageType.helloAck,
    MessageType.batchAck,
    MessageType.batchAck,
    MessageType.batchAck,
  ]);
  assert.equal(sink.writes - writesBefore, 1);
});
