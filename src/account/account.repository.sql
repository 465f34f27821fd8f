-- Written by npm run sql:snapshot from src/account/account.repository.ts: its statements as PostgreSQL receives them.

-- account_lock_own_grant ($1 grantId, $2 userId)
SELECT g.id AS grant_id, g.client_id, g.user_id, g.resource_id, r.resource AS resource_url, g.revoked_at IS NOT NULL AS revoked
         FROM grants g JOIN resource_servers r ON r.id = g.resource_id
        WHERE g.id = $1::uuid AND g.user_id = $2::uuid
          FOR UPDATE OF g;

-- account_owner ($1 userId)
SELECT u.display_name,
              coalesce((SELECT json_agg(json_build_object('provider', i.provider, 'login', i.login, 'email', i.email, 'name', i.name) ORDER BY i.created_at, i.provider)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::json) AS identities
         FROM users u WHERE u.id = $1::uuid AND u.disabled_at IS NULL;

-- account_user_grants ($1 userId, $2 liveOnly)
SELECT g.id AS grant_id, g.client_id, c.kind AS client_kind, c.metadata AS client_metadata,
              r.name AS resource_name, r.resource AS resource_url, g.scopes, r.scope_descriptions, g.created_at, used.last_used_at, used.refreshable
         FROM grants g
         JOIN clients c ON c.id = g.client_id
         JOIN resource_servers r ON r.id = g.resource_id
         CROSS JOIN LATERAL (
           SELECT greatest(max(rt.created_at), g.created_at) AS last_used_at, coalesce(bool_or(g.revoked_at IS NULL AND rt.rotated_at IS NULL AND rt.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL)), false) AS refreshable
             FROM refresh_tokens rt WHERE rt.grant_id = g.id
         ) used
        WHERE g.user_id = $1::uuid AND g.revoked_at IS NULL
          AND (NOT $2::boolean OR used.refreshable OR used.last_used_at + make_interval(secs => r.access_token_ttl) > now())
        ORDER BY used.last_used_at DESC, g.id;
