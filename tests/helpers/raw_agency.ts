/** A bare protocol peer for tests: sends any message, reads any reply. */

import { BufferedReader } from "../../lib/protocol/buffered_reader.ts";
import { writeAll } from "../../lib/runtime/write_all.ts";
import { closeQuietly } from "../../lib/runtime/close_quietly.ts";
import { decodeMessage, encodeMessage, type Message } from "../../lib/protocol/message_codec.ts";
import {
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_OFFSET,
  FRAME_MARKER,
  MessageType,
  PROTOCOL_VERSION,
} from "../../lib/protocol/protocol.ts";

/** Largest reply a test reads. */
const _REPLY_BYTES_MAX = 16 * 1024 * 1024;

/**
 * A frame header declaring `bodyBytes` of `type`, followed by `extraBytes`
 * zero bytes (part of a body, or none), for frames no encoder would make.
 */
export function frameHeader(
  type: number,
  bodyBytes: number,
  version = PROTOCOL_VERSION,
  extraBytes = 0,
): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + extraBytes);
  bytes[0] = FRAME_MARKER;
  bytes[1] = version;
  bytes[2] = type;
  new DataView(bytes.buffer).setUint32(FRAME_LENGTH_OFFSET, bodyBytes);
  return bytes;
}

/** A raw connection to a server under test. */
export class RawPeer {
  readonly conn: Deno.TcpConn;
  readonly reader: BufferedReader;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.reader = new BufferedReader(conn);
  }

  static async connect(port: number): Promise<RawPeer> {
    return new RawPeer(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Connects and says hello (with `secret`, if given); returns the peer and the reply. */
  static async hello(port: number, agency: number, secret?: string): Promise<[RawPeer, Message]> {
    const peer = await RawPeer.connect(port);
    await peer.send({
      type: MessageType.hello,
      agency,
      ...(secret === undefined ? {} : { secret }),
    });
    return [peer, await peer.receive()];
  }

  send(message: Message): Promise<void> {
    return writeAll(this.conn, encodeMessage(message));
  }

  sendBytes(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Reads the next message; throws when the server closed instead. */
  async receive(): Promise<Message> {
    const frame = await this.reader.readFrame(_REPLY_BYTES_MAX);
    if (frame === null) throw new Error("server closed the connection");
    return decodeMessage(frame);
  }

  /** True when the server closes the connection (reads to its end). */
  async closedByServer(): Promise<boolean> {
    const buffer = new Uint8Array(1024);
    while (true) {
      const count = await this.conn.read(buffer).catch(() => null);
      if (count === null) return true;
    }
  }

  close(): void {
    closeQuietly(this.conn);
  }
}
