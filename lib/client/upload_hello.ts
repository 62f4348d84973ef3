/**
 * The two hellos of an upload. The first one learns where the upload
 * starts: the server's draw and the bets it stores for the agency. A resume
 * (on a new connection after a loss) checks the draw is the same, drops the
 * batches of the window the server stored meanwhile and resends the rest.
 */

import { concatBytes } from "../runtime/bytes.ts";
import type { Logger } from "../runtime/log.ts";
import { helloFrame, type Message } from "../protocol/message_codec.ts";
import { MessageType } from "../protocol/protocol.ts";
import { BatchWindow, WindowError } from "./batch_window.ts";
import { StoredPrefixCheck } from "./stored_prefix_check.ts";
import { describeMessage, UploadRefusal } from "./upload_errors.ts";
import type { UploadLink } from "./upload_link.ts";

/** Who says hello. */
export interface HelloOptions {
  agency: number;
  /** Sent in hello when the server checks agency secrets. */
  secret?: string;
  logger: Logger;
}

/** What a resume needs besides: the digest of the upload's first bets. */
export interface ResumeOptions extends HelloOptions {
  /** Digest of the upload's first `bets` bets (file_prefix_digest.ts). */
  sentDigest(bets: number): Promise<number>;
}

/** What the first helloAck said: the draw, and the agency's stored bets as
 * the prefix to check and the window's starting point. */
export interface UploadStart {
  drawId: string;
  check: StoredPrefixCheck;
  window: BatchWindow;
}

type _HelloAck = Extract<Message, { type: typeof MessageType.helloAck }>;

/**
 * Says the upload's first hello.
 * @returns where the upload starts
 * @throws {UploadRefusal} when the server refuses the agency for good
 * @throws {TransientRefusal} or a connection error when it should be retried
 */
export async function firstHello(link: UploadLink, options: HelloOptions): Promise<UploadStart> {
  const ack = await _hello(link, options);
  if (ack.storedBets > 0) {
    options.logger.info("reanudacion", "in_progress", {
      client_id: options.agency,
      draw_id: ack.drawId,
      stored_bets: ack.storedBets,
    });
  }
  return {
    drawId: ack.drawId,
    check: new StoredPrefixCheck(ack.storedBets, ack.storedDigest, ack.checkpoints),
    window: new BatchWindow(ack.storedBets),
  };
}

/**
 * Says hello again on a new connection and resends the window's batches
 * the server has not stored. The bets the server stores must be this
 * upload's: their digest is taken from the file, once their count is sound.
 * @param start what the first hello said (its window is updated)
 * @throws {UploadRefusal} when the server refuses the agency, moved to
 *   another draw, or reports stored bets that cannot be this upload's
 * @throws {TransientRefusal} or a connection error when it should be retried
 */
export async function resumeHello(
  link: UploadLink,
  options: ResumeOptions,
  start: UploadStart,
): Promise<void> {
  const ack = await _hello(link, options);
  if (ack.drawId !== start.drawId) {
    throw new UploadRefusal(
      `the server moved from draw ${start.drawId} to draw ${ack.drawId} during the upload`,
    );
  }
  try {
    start.window.resumeCount(ack.storedBets);
    const sentDigest = await options.sentDigest(ack.storedBets);
    start.window.resumeAt(ack.storedBets, ack.storedDigest, sentDigest);
  } catch (error) {
    if (!(error instanceof WindowError)) throw error;
    throw new UploadRefusal(`draw ${ack.drawId}: ${(error as Error).message}`);
  }
  if (start.window.size > 0) {
    await link.write(concatBytes(start.window.unacknowledged().map((batch) => batch.frame)));
  }
}

async function _hello(link: UploadLink, options: HelloOptions): Promise<_HelloAck> {
  const { agency, logger } = options;
  await link.write(helloFrame(agency, options.secret));
  const reply = await link.readReply();
  if (reply.type !== MessageType.helloAck) {
    throw new UploadRefusal(`server refused hello: ${describeMessage(reply)}`);
  }
  logger.debug("hello", "success", {
    client_id: agency,
    draw_id: reply.drawId,
    stored_bets: reply.storedBets,
  });
  return reply;
}
