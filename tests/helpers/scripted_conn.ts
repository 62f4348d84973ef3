/**
 * A stand-in for a client's Deno.Conn, in memory: reads hand out the
 * server's scripted frames, then end of stream; writes are kept, decoded
 * frame by frame.
 */

import { BufferedReader } from "../../lib/protocol/buffered_reader.ts";
import { decodeMessage, encodeMessage, type Message } from "../../lib/protocol/message_codec.ts";
import { concatBytes } from "../../lib/runtime/bytes.ts";
import { ChunkedSource } from "./byte_io.ts";

/** A connection whose server said `replies` (in one read each of `chunkBytes`). */
export class ScriptedConn {
  readonly #source: ChunkedSource;
  readonly #written: Uint8Array[] = [];
  /** Writes made (each `write` call). */
  writes = 0;
  closed = false;

  constructor(replies: readonly Message[], chunkBytes = 1 << 20) {
    this.#source = new ChunkedSource(concatBytes(replies.map(encodeMessage)), chunkBytes);
  }

  /** This double typed as the connection it stands in for. */
  asConn(): Deno.Conn {
    return this as unknown as Deno.Conn;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    return this.#source.read(buffer);
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    this.writes += 1;
    this.#written.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }

  close(): void {
    if (this.closed) throw new Deno.errors.BadResource("closed twice");
    this.closed = true;
  }

  /** Every byte written so far. */
  writtenBytes(): Uint8Array {
    return concatBytes(this.#written);
  }

  /** The frames written so far, decoded. */
  async writtenMessages(): Promise<Message[]> {
    const reader = new BufferedReader(new ChunkedSource(this.writtenBytes(), 1 << 20));
    const messages: Message[] = [];
    while (true) {
      const frame = await reader.readFrame(1 << 24);
      if (frame === null) return messages;
      messages.push(decodeMessage(frame));
    }
  }
}
