-- Written by npm run sql:snapshot from src/console/console-clients.repository.ts: its statements as PostgreSQL receives them.

-- console_client ($1 clientId)
SELECT c.id, c.kind, c.metadata, c.created_at, c.updated_at, c.last_used_at, c.metadata_expires_at,
              (SELECT count(*) FROM grants g WHERE g.client_id = c.id AND g.revoked_at IS NULL)::int AS live_grants
         FROM clients c
        WHERE c.id = $1;

-- console_client_grants ($1 clientId, $2 limit)
SELECT g.id, g.user_id, u.display_name, g.scopes, g.created_at, r.name AS resource_name, r.resource,
              (SELECT i.provider || ':' || coalesce(i.login, i.email, i.subject) FROM user_identities i
                WHERE i.user_id = g.user_id ORDER BY i.created_at, i.provider LIMIT 1) AS identity
         FROM grants g
         JOIN users u ON u.id = g.user_id
         JOIN resource_servers r ON r.id = g.resource_id
        WHERE g.client_id = $1 AND g.revoked_at IS NULL
        ORDER BY g.created_at DESC, g.id
        LIMIT $2;

-- console_clients ($1 kind, $2 activity, $3 countCap, $4 after, $5 limit)
SELECT total.n AS total, p.id, p.kind, p.name, p.created_at, p.last_used_at,
              (SELECT count(*) FROM grants g WHERE g.client_id = p.id AND g.revoked_at IS NULL)::int AS live_grants
         FROM (SELECT count(*)::int AS n FROM (SELECT 1 FROM clients c WHERE ($1::text IS NULL OR c.kind = $1::text)
            AND CASE $2::text
                  WHEN 'day' THEN c.last_used_at >= now() - interval '24 hours'
                  WHEN 'month' THEN c.last_used_at >= now() - interval '30 days'
                  WHEN 'idle' THEN c.last_used_at < now() - interval '30 days'
                  WHEN 'never' THEN c.last_used_at IS NULL
                  ELSE true END LIMIT $3) AS counted) AS total
         LEFT JOIN LATERAL (
           SELECT c.id, c.kind, c.metadata->>'client_name' AS name, c.created_at, c.last_used_at
             FROM clients c
            WHERE c.id > $4::text AND ($1::text IS NULL OR c.kind = $1::text)
            AND CASE $2::text
                  WHEN 'day' THEN c.last_used_at >= now() - interval '24 hours'
                  WHEN 'month' THEN c.last_used_at >= now() - interval '30 days'
                  WHEN 'idle' THEN c.last_used_at < now() - interval '30 days'
                  WHEN 'never' THEN c.last_used_at IS NULL
                  ELSE true END
            ORDER BY c.id
            LIMIT $5
         ) AS p ON true
        ORDER BY p.id;
