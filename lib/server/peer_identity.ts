/** Who the transport says the peer is, and what that allows at hello. */

/** What the transport proved about the peer. */
export interface PeerIdentity {
  /** The agency its verified client certificate names: a hello for any
   * other agency is refused. */
  certifiedAgency?: number;
  /** Every hello on this connection is refused with this reason. */
  helloRefusal?: string;
}

/**
 * Why a hello for `agency` is refused on a connection with this identity.
 * @returns the reason, or undefined when the transport allows it
 * @example helloRefusal({ certifiedAgency: 2 }, 3) // "the client certificate names agency 2, not 3"
 */
export function helloRefusal(identity: PeerIdentity, agency: number): string | undefined {
  const { certifiedAgency, helloRefusal } = identity;
  if (helloRefusal !== undefined) return helloRefusal;
  if (certifiedAgency === undefined || agency === certifiedAgency) return undefined;
  return `the client certificate names agency ${certifiedAgency}, not ${agency}`;
}
