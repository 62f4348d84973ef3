/**
 * The checks a connection's first frame must pass before it binds an
 * agency: it is a hello, for an agency of the draw, that the transport
 * allows, with the agency's secret when secrets are configured.
 */

import { decodeMessage, type Frame } from "../protocol/message_codec.ts";
import { ErrorCode, MessageType, ProtocolError } from "../protocol/protocol.ts";
import { secretMatches } from "./agency_secrets.ts";
import { helloRefusal, type PeerIdentity } from "./peer_identity.ts";

/** What a hello is checked against. */
export interface HelloRules {
  /** Agencies of the draw: 1..agencies. */
  agencies: number;
  /** What the transport proved about the peer. */
  identity: PeerIdentity;
  /** Each agency's secret; undefined when hello needs none. */
  agencySecrets: ReadonlyMap<number, string> | undefined;
}

/**
 * Checks a connection's first frame.
 * @returns the agency the hello names
 * @throws {ProtocolError} helloRequired when it is no hello, unknownAgency
 *   outside 1..agencies, authenticationFailed when the transport refuses the
 *   agency or the secret is wrong or missing
 */
export async function checkHello(frame: Frame, rules: HelloRules): Promise<number> {
  const message = frame.type === MessageType.hello ? decodeMessage(frame) : undefined;
  if (message?.type !== MessageType.hello) {
    throw new ProtocolError(ErrorCode.helloRequired, "the first message must be hello");
  }
  const agency = message.agency;
  if (agency < 1 || agency > rules.agencies) {
    throw new ProtocolError(
      ErrorCode.unknownAgency,
      `agency ${agency} is not in 1..${rules.agencies}`,
    );
  }
  const refusal = helloRefusal(rules.identity, agency);
  if (refusal !== undefined) throw new ProtocolError(ErrorCode.authenticationFailed, refusal);
  const secrets = rules.agencySecrets;
  if (secrets !== undefined && !(await secretMatches(secrets.get(agency), message.secret))) {
    throw new ProtocolError(
      ErrorCode.authenticationFailed,
      `agency ${agency}: wrong or missing secret`,
    );
  }
  return agency;
}
