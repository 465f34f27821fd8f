-- Written by npm run sql:snapshot from src/tokens/token-status.repository.ts: its statements as PostgreSQL receives them.

-- refresh_token_record ($1 tokenHash)
SELECT t.grant_id, g.user_id, g.subject, g.claims, g.client_id, g.resource_id, r.resource, g.scopes, t.created_at, t.expires_at,
              g.revoked_at IS NULL AND t.rotated_at IS NULL AND t.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL) AS usable, t.rotated_at IS NOT NULL AS rotated, g.revoked_at IS NOT NULL AS grant_revoked
         FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN resource_servers r ON r.id = g.resource_id
        WHERE t.token_hash = $1;

-- revoke_jti ($1 jti, $2 clientId, $3 expiresAt)
INSERT INTO revoked_access_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING RETURNING jti;

-- revoked_access_tokens_delete_expired ($1 before, $2 limit)
DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti FROM revoked_access_tokens WHERE expires_at < $1 LIMIT $2);

-- token_standing ($1 grantId, $2 jti)
SELECT live.user_id,
              (live.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM client_credentials_grants c WHERE c.id = $1)) AS grant_live,
              EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $2) AS jti_revoked
         FROM (SELECT (SELECT g.user_id FROM grants g JOIN users u ON u.id = g.user_id
                        WHERE g.id = $1 AND g.revoked_at IS NULL AND u.disabled_at IS NULL) AS user_id) AS live;
