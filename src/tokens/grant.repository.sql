-- Written by npm run sql:snapshot from src/tokens/grant.repository.ts: its statements as PostgreSQL receives them.

-- refresh_delete_expired ($1 before, $2 limit)
DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2);

-- refresh_inspect ($1 tokenHash)
SELECT rt.grant_id, g.revoked_at IS NULL AND rt.rotated_at IS NULL AND rt.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL) AS usable,
              rt.rotated_at IS NOT NULL AS rotated, rt.expires_at <= now() AS expired,
              g.user_id, g.client_id, g.resource_id, g.scopes, g.revoked_at IS NOT NULL AS revoked, u.disabled_at IS NOT NULL AS user_disabled,
              g.dpop_jkt, r.require_dpop
         FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id JOIN users u ON u.id = g.user_id JOIN resource_servers r ON r.id = g.resource_id
        WHERE rt.token_hash = $1;

-- refresh_retry ($1 tokenHash, $2 graceSeconds, $3 maxRetries, $4 clientId, $5 resource, $6 scopes, $7 proofJkt, $8 successorHash, $9 audit_lock, $10 audit_schema, $11 event1_type, $12 event1_time, $13 event1_actor_kind, $14 event1_actor_source, $15 event1_actor_id, $16 event1_client_id, $17 event1_ip, $18 event1_user_agent, $19 event1_request_id, $20 event1_outcome, $21 event1_data)
WITH retried AS (
         UPDATE refresh_tokens rt SET retries = rt.retries + 1
           FROM grants g JOIN resource_servers r ON r.id = g.resource_id
          WHERE rt.token_hash = $1 AND rt.rotated_at > now() - make_interval(secs => $2::double precision)
            AND rt.retries < $3::integer AND rt.expires_at > now()
            AND g.id = rt.grant_id AND g.revoked_at IS NULL AND g.client_id = $4
            AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = g.user_id AND u.disabled_at IS NOT NULL)
            AND ($5::text IS NULL OR r.resource = $5::text)
            AND ($6::text[] IS NULL OR $6::text[] <@ g.scopes)
            AND (g.dpop_jkt IS NULL OR g.dpop_jkt = $7::text) AND (NOT r.require_dpop OR $7::text IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.grant_id = rt.grant_id AND c.parent_hash = rt.token_hash AND c.rotated_at IS NOT NULL)
         RETURNING rt.grant_id, g.user_id, g.subject, g.claims, r.resource, r.access_token_ttl, r.refresh_token_ttl, coalesce($6::text[], g.scopes) AS scopes, rt.retries
       ), successor AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, parent_hash, expires_at)
         SELECT $8, grant_id, $1, now() + make_interval(secs => refresh_token_ttl) FROM retried
         RETURNING 1
       ), done AS (
         -- As in the rotation: the token's row lock is taken before the audit append lock.
         SELECT retried.* FROM retried, (SELECT count(*) FROM successor) s
       ), appending AS (SELECT pg_advisory_xact_lock_shared($9) FROM done),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, done AS change, LATERAL (VALUES ($10::smallint, $11::text, $12::timestamptz, $13::text, CASE $14::text WHEN 'subject' THEN change.user_id::text WHEN 'resource' THEN change.resource::text ELSE $15::text END, $16::text, change.user_id::text, change.resource::text, change.scopes::text[], $17::text, $18::text, $19::text, $20::text, ($21::jsonb || jsonb_build_object('grant_id', change.grant_id, 'scopes', change.scopes, 'retries', change.retries)))) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, done AS change;

-- refresh_rotation ($1 tokenHash, $2 clientId, $3 resource, $4 scopes, $5 proofJkt, $6 successorHash, $7 recordUseOf, $8 useResolutionSeconds, $9 audit_lock, $10 audit_schema, $11 event1_type, $12 event1_time, $13 event1_actor_kind, $14 event1_actor_source, $15 event1_actor_id, $16 event1_client_id, $17 event1_ip, $18 event1_user_agent, $19 event1_request_id, $20 event1_outcome, $21 event1_data)
WITH rotated AS (
         UPDATE refresh_tokens rt SET rotated_at = now()
           FROM grants g JOIN resource_servers r ON r.id = g.resource_id
          WHERE rt.token_hash = $1 AND g.id = rt.grant_id AND g.revoked_at IS NULL AND rt.rotated_at IS NULL AND rt.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL)
            AND g.client_id = $2
            AND ($3::text IS NULL OR r.resource = $3::text)
            AND ($4::text[] IS NULL OR $4::text[] <@ g.scopes)
            AND (g.dpop_jkt IS NULL OR g.dpop_jkt = $5::text) AND (NOT r.require_dpop OR $5::text IS NOT NULL)
         RETURNING rt.grant_id, g.user_id, g.subject, g.claims, r.resource, r.access_token_ttl, r.refresh_token_ttl, coalesce($4::text[], g.scopes) AS scopes
       ), successor AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, parent_hash, expires_at)
         SELECT $6, grant_id, $1, now() + make_interval(secs => refresh_token_ttl) FROM rotated
         RETURNING 1
       ), used AS (
         UPDATE clients SET last_used_at = now()
          WHERE id = $7 AND EXISTS (SELECT 1 FROM rotated)
            AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $8::double precision))
         RETURNING last_used_at
       ), done AS (
         -- The gate reads every other change to its end, so that all row locks (the client's too) are taken
         -- before the audit append lock: a CTE nobody reads runs after the main query, that is after the lock,
         -- and a row lock waited for while holding it would stall every writer queued behind a reader's horizon.
         SELECT rotated.* FROM rotated, (SELECT count(*) FROM successor) s, (SELECT count(*) FROM used) u
       ), appending AS (SELECT pg_advisory_xact_lock_shared($9) FROM done),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, done AS change, LATERAL (VALUES ($10::smallint, $11::text, $12::timestamptz, $13::text, CASE $14::text WHEN 'subject' THEN change.user_id::text WHEN 'resource' THEN change.resource::text ELSE $15::text END, $16::text, change.user_id::text, change.resource::text, change.scopes::text[], $17::text, $18::text, $19::text, $20::text, ($21::jsonb || jsonb_build_object('grant_id', change.grant_id, 'scopes', change.scopes)))) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, done AS change;
