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
 * no trusted redirect URI to send an error to), /token into `invalid_client`. The description is a sentence about
 * the URL or the document, never its content, so it is safe to show and to log. `auditDetail` is for operators
 * only (the audit event), never shown: e.g. the internal address a name resolved to, which would otherwise let
 * anyone map internal DNS through the error page.
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
