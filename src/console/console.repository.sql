-- Written by npm run sql:snapshot from src/console/console.repository.ts: its statements as PostgreSQL receives them.

-- console_activity_counts ($1 start, $2 bucketSeconds, $3 types, $4 end)
SELECT floor(extract(epoch FROM occurred_at - $1::timestamptz) / $2::int)::int AS bucket,
              type, data->>'reason' AS reason, data->>'policy' AS policy, count(*)::int AS events
         FROM audit_events
        WHERE type = ANY($3::text[])
          AND occurred_at >= $1::timestamptz AND occurred_at < $4::timestamptz
        GROUP BY 1, 2, 3, 4;

-- console_counts
SELECT (SELECT count(*) FROM resource_servers)::int AS resource_servers,
              (SELECT count(*) FROM clients WHERE kind = 'dynamic')::int AS dynamic_clients,
              (SELECT count(*) FROM clients WHERE kind = 'metadata_document')::int AS metadata_document_clients,
              (SELECT count(*) FROM clients WHERE kind = 'static')::int AS pre_registered_clients,
              (SELECT count(*) FROM users)::int AS users,
              (SELECT count(*) FROM grants WHERE revoked_at IS NULL)::int AS live_grants,
              (SELECT count(*) FROM identity_providers)::int AS identity_providers;

-- console_operators_grant ($1 userId, $2 role, $3 grantedBy)
INSERT INTO console_operators (user_id, role, granted_by) VALUES ($1::uuid, $2::text, $3::text)
       ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, granted_at = now(), granted_by = excluded.granted_by
       RETURNING user_id, role, granted_at, granted_by;

-- console_operators_grant_first_admin ($1 userId)
INSERT INTO console_operators (user_id, role, granted_by) VALUES ($1::uuid, 'admin', 'config')
       ON CONFLICT (user_id) DO NOTHING
       RETURNING role;

-- console_operators_list
SELECT o.user_id, u.display_name, o.role, o.granted_at, o.granted_by, coalesce((SELECT json_agg(json_build_object('provider', i.provider, 'login', i.login, 'email', i.email) ORDER BY i.created_at, i.provider)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::json) AS identities
         FROM console_operators o JOIN users u ON u.id = o.user_id
        ORDER BY o.granted_at, o.user_id;

-- console_operators_lock_user ($1 userId)
SELECT o.role FROM users u LEFT JOIN console_operators o ON o.user_id = u.id
        WHERE u.id = $1::uuid
          FOR UPDATE OF u;

-- console_operators_revoke ($1 userId)
DELETE FROM console_operators WHERE user_id = $1::uuid RETURNING role;

-- console_user ($1 userId)
SELECT u.id AS user_id, u.display_name, o.role, coalesce((SELECT json_agg(json_build_object('provider', i.provider, 'login', i.login, 'email', i.email) ORDER BY i.created_at, i.provider)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::json) AS identities, u.disabled_at IS NOT NULL AS disabled
         FROM users u LEFT JOIN console_operators o ON o.user_id = u.id
        WHERE u.id = $1::uuid;
