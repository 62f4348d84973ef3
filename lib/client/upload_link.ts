/**
 * One connection of an upload: writes frames, reads the server's replies
 * (a transient error reply becomes a {@link TransientRefusal}), closes.
 */

import { UPLOAD_REPLY_BYTES_MAX } from "../limits.ts";
import { BufferedReader } from "../protocol/buffered_reader.ts";
import { decodeMessage, type Message } from "../protocol/message_codec.ts";
import { MessageType } from "../protocol/protocol.ts";
import { closeQuietly } from "../runtime/close_quietly.ts";
import { writeAll } from "../runtime/write_all.ts";
import { describeMessage, isTransientCode, TransientRefusal } from "./upload_errors.ts";

/** A connection to the server and its reader. */
export class UploadLink {
  readonly #conn: Deno.Conn;
  readonly #reader: BufferedReader;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
  }

  /** Whether a whole reply is buffered already (reading it will not wait). */
  get hasWholeReply(): boolean {
    return this.#reader.hasWholeFrame;
  }

  /** Writes every byte (frames, whole). */
  async write(bytes: Uint8Array): Promise<void> {
    await writeAll(this.#conn, bytes);
  }

  /**
   * Reads the next reply.
   * @throws {Deno.errors.ConnectionReset} when the server closed the connection
   * @throws {TransientRefusal} when the reply is an error the server may not
   *   repeat later (shuttingDown, storeFailed, idleTimeout, tooManyConnections)
   * @throws {ProtocolError} when the reply cannot be decoded
   */
  async readReply(): Promise<Message> {
    const frame = await this.#reader.readFrame(UPLOAD_REPLY_BYTES_MAX);
    if (frame === null) {
      throw new Deno.errors.ConnectionReset("server closed the connection");
    }
    const reply = decodeMessage(frame);
    if (reply.type === MessageType.error && isTransientCode(reply.code)) {
      throw new TransientRefusal(describeMessage(reply));
    }
    return reply;
  }

  /** Closes the connection (a pending read or write then fails); safe to call twice. */
  close(): void {
    closeQuietly(this.#conn);
  }
}
