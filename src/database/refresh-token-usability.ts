import { sqlText, type SqlFragment } from './sql.js';

/**
 * When a refresh token can be rotated: its grant is not revoked, its user is not disabled (disabling revokes the
 * user's grants too; this also stops a grant made from a code exchanged while the user was being disabled), the
 * token was not rotated yet, and it has not expired. This is the one definition: every statement that asks embeds it (`token` and `grant` being its aliases of
 * refresh_tokens and grants), and TypeScript reads the answer from a column such a statement computes. It lives
 * here, below the features, because tokens, introspection and registration (a client holding a live refresh token
 * is not expired) all ask it.
 */
export function refreshTokenUsable(token: string, grant: string): SqlFragment<Record<never, never>> {
  for (const alias of [token, grant]) if (!/^[a-z_][a-z0-9_]*$/.test(alias)) throw new Error(`not a table alias: ${alias}`);
  return sqlText(
    `${grant}.revoked_at IS NULL AND ${token}.rotated_at IS NULL AND ${token}.expires_at > now()` +
      ` AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = ${grant}.user_id AND disabled.disabled_at IS NOT NULL)`,
  );
}
