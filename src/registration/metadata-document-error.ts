/** Why a client metadata document URL or document was refused; recorded with `client.metadata_rejected`. */
export type MetadataRejectionReason =
  | 'invalid_client_id'
  | 'host_not_allowed'
  | 'address_not_allowed'
  | 'dns_failed'
  | 'unreachable'
  | 'tls_failed'
  | 'timeout'
  | 'redirect'
  | 'http_status'
  | 'content_type'
  | 'too_large'
  | 'invalid_json'
  | 'invalid_document';

/**
 * A `client_id` URL that cannot be used. Not an OAuth error itself: /authorize turns it into an HTML page (there is
 * no trusted redirect URI to send an error to), /token into `invalid_client`. Neither shows the reason: whoever can
 * send a client_id could otherwise tell a name that does not resolve from one that resolves to an internal address,
 * or a closed port from an open one, and map the inside of the network (see metadataDocumentRefusal). The reason,
 * `description` (a sentence about the URL or the document, never its content) and `auditDetail` (e.g. the internal
 * address a name resolved to) are for operators only: the warning logged under the request id and the
 * `client.metadata_rejected` audit event.
 */
export class MetadataDocumentError extends Error {
  constructor(
    readonly reason: MetadataRejectionReason,
    readonly description: string,
    readonly auditDetail: Record<string, string> = {},
  ) {
    super(`${reason}: ${description}`);
    this.name = 'MetadataDocumentError';
  }
}

/**
 * What an unauthenticated caller is told about a refused client metadata document, whatever the reason: one
 * sentence, the same for all of them, naming only the request id under which the operator finds the reason.
 */
export function metadataDocumentRefusal(requestId: string | undefined): string {
  return `the server's operator can find the reason in its log under request id ${requestId ?? 'unknown'}`;
}
