-- Written by npm run sql:snapshot from src/authorization/interaction.repository.ts: its statements as PostgreSQL receives them.

-- interaction_delete_expired ($1 before, $2 limit)
DELETE FROM interactions WHERE id IN (SELECT id FROM interactions WHERE expires_at < $1 LIMIT $2);

-- interaction_denial ($1 interactionId, $2 audit_lock, $3 audit_schema, $4 event1_type, $5 event1_time, $6 event1_actor_kind, $7 event1_actor_id, $8 event1_client_id, $9 event1_subject, $10 event1_resource, $11 event1_scopes, $12 event1_ip, $13 event1_user_agent, $14 event1_request_id, $15 event1_outcome, $16 event1_data)
WITH completed AS (UPDATE interactions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now() RETURNING id), appending AS (SELECT pg_advisory_xact_lock_shared($2) FROM completed),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, completed AS change, LATERAL (VALUES ($3::smallint, $4::text, $5::timestamptz, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text[], $12::text, $13::text, $14::text, $15::text, $16::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, completed AS change;

-- interaction_denial_guarded ($1 interactionId, $2 guardHandleHash, $3 guardUserId, $4 audit_lock, $5 audit_schema, $6 event1_type, $7 event1_time, $8 event1_actor_kind, $9 event1_actor_id, $10 event1_client_id, $11 event1_subject, $12 event1_resource, $13 event1_scopes, $14 event1_ip, $15 event1_user_agent, $16 event1_request_id, $17 event1_outcome, $18 event1_data)
WITH completed AS (UPDATE interactions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now() AND consent_handle_hash = $2 AND user_id = $3::uuid RETURNING id), appending AS (SELECT pg_advisory_xact_lock_shared($4) FROM completed),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, completed AS change, LATERAL (VALUES ($5::smallint, $6::text, $7::timestamptz, $8::text, $9::text, $10::text, $11::text, $12::text, $13::text[], $14::text, $15::text, $16::text, $17::text, $18::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, completed AS change;

-- interaction_insert ($1 id, $2 browserHash, $3 clientId, $4 resourceId, $5 redirectUri, $6 scopes, $7 state, $8 codeChallenge, $9 dpopJkt, $10 expiresAt, $11 externalAuthHash, $12 externalAuthExpiresAt)
INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, state, code_challenge, dpop_jkt, expires_at,
                                           external_auth_hash, external_auth_expires_at)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7,
               $8, $9::text, $10, $11, $12);

-- interaction_insert_used ($1 clientId, $2 useResolutionSeconds, $3 id, $4 browserHash, $5 resourceId, $6 redirectUri, $7 scopes, $8 state, $9 codeChallenge, $10 dpopJkt, $11 expiresAt, $12 externalAuthHash, $13 externalAuthExpiresAt)
WITH used AS (
         UPDATE clients SET last_used_at = now()
          WHERE id = $1
            AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2::double precision))
         RETURNING last_used_at
       )
       INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, state, code_challenge, dpop_jkt, expires_at,
                                           external_auth_hash, external_auth_expires_at)
       VALUES ($3, $4, $1, $5, $6, $7::text[], $8,
               $9, $10::text, $11, $12, $13)
       RETURNING (SELECT last_used_at FROM used) AS used_at;
