-- Written by npm run sql:snapshot from src/console/console-users.repository.ts: its statements as PostgreSQL receives them.

-- console_user_grants ($1 userId)
SELECT g.id AS grant_id, g.client_id, c.kind AS client_kind, c.metadata AS client_metadata,
              r.name AS resource_name, r.resource AS resource_url, g.scopes, g.created_at AS granted_at, used.last_used_at, used.refreshable
         FROM grants g
         JOIN clients c ON c.id = g.client_id
         JOIN resource_servers r ON r.id = g.resource_id
         CROSS JOIN LATERAL (
           SELECT greatest(max(rt.created_at), g.created_at) AS last_used_at, coalesce(bool_or(g.revoked_at IS NULL AND rt.rotated_at IS NULL AND rt.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL)), false) AS refreshable
             FROM refresh_tokens rt WHERE rt.grant_id = g.id
         ) used
        WHERE g.user_id = $1::uuid AND g.revoked_at IS NULL
        ORDER BY used.last_used_at DESC, g.id;

-- console_user_last_sign_in ($1 userId)
SELECT occurred_at FROM audit_events
        WHERE subject = $1::text AND type = 'login.succeeded'
        ORDER BY seq DESC LIMIT 1;

-- console_user_providers
WITH RECURSIVE present AS (
         SELECT min(provider) AS provider FROM user_identities
         UNION ALL
         SELECT (SELECT min(i.provider) FROM user_identities i WHERE i.provider > present.provider) FROM present WHERE present.provider IS NOT NULL
       )
       SELECT provider FROM present WHERE provider IS NOT NULL;

-- console_user_roles ($1 userIds)
SELECT user_id, role FROM console_operators WHERE user_id = ANY($1::uuid[]);
