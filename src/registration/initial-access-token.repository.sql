-- Written by npm run sql:snapshot from src/registration/initial-access-token.repository.ts: its statements as PostgreSQL receives them.

-- initial_access_token_consume ($1 tokenHash)
UPDATE initial_access_tokens SET registrations = registrations + 1 WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND (max_registrations IS NULL OR registrations < max_registrations) RETURNING id;

-- initial_access_token_find_usable ($1 tokenHash)
SELECT id FROM initial_access_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND (max_registrations IS NULL OR registrations < max_registrations);

-- initial_access_token_revoke ($1 id)
UPDATE initial_access_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id;
