-- Written by npm run sql:snapshot from src/authorization/user.repository.ts: its statements as PostgreSQL receives them.

-- user_disable ($1 id)
UPDATE users SET disabled_at = now() WHERE id = $1::uuid AND disabled_at IS NULL;

-- user_disabled ($1 id)
SELECT disabled_at IS NOT NULL AS disabled FROM users WHERE id = $1::uuid;

-- user_disabled_locked ($1 id)
SELECT disabled_at IS NOT NULL AS disabled FROM users WHERE id = $1::uuid FOR SHARE;

-- user_enable ($1 id)
UPDATE users SET disabled_at = NULL WHERE id = $1::uuid AND disabled_at IS NOT NULL;

-- user_identity_lock ($1 key)
SELECT pg_advisory_xact_lock(hashtext($1));

-- user_managed ($1 id)
SELECT u.id, u.display_name, u.created_at, u.disabled_at,
              (SELECT count(*) FROM grants g WHERE g.user_id = u.id AND g.revoked_at IS NULL)::int AS live_grants,
              coalesce((SELECT jsonb_agg(jsonb_build_object('provider', i.provider, 'subject', i.subject, 'login', i.login, 'name', i.name,
                                                           'email', i.email, 'email_verified', i.email_verified, 'groups', i.groups,
                                                           'created_at', i.created_at, 'updated_at', i.updated_at) ORDER BY i.created_at)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::jsonb) AS identities FROM users u WHERE u.id = $1::uuid;

-- user_search ($1 q, $2 login, $3 email, $4 provider, $5 limit)
SELECT u.id, u.display_name, u.created_at, u.disabled_at,
              (SELECT count(*) FROM grants g WHERE g.user_id = u.id AND g.revoked_at IS NULL)::int AS live_grants,
              coalesce((SELECT jsonb_agg(jsonb_build_object('provider', i.provider, 'subject', i.subject, 'login', i.login, 'name', i.name,
                                                           'email', i.email, 'email_verified', i.email_verified, 'groups', i.groups,
                                                           'created_at', i.created_at, 'updated_at', i.updated_at) ORDER BY i.created_at)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::jsonb) AS identities
         FROM users u
        WHERE ($1::text IS NOT NULL AND u.id::text = lower($1::text))
           OR EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = u.id
                 AND ($2::text IS NULL OR lower(i.login) = lower($2::text))
                 AND ($3::text IS NULL OR lower(i.email) = lower($3::text))
                 AND ($4::text IS NULL OR i.provider = $4::text)
                 AND ($1::text IS NULL OR starts_with(lower(i.login), lower($1::text))
                      OR starts_with(lower(i.email), lower($1::text)) OR starts_with(lower(i.name), lower($1::text))
                      -- The provider's subject; for a product's user (<resource id>:<subject>), the product's own.
                      OR i.subject = $1::text OR (i.provider = 'external' AND substr(i.subject, 38) = $1::text)))
        ORDER BY u.created_at DESC, u.id
        LIMIT $5;
