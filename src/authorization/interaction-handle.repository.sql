-- Written by npm run sql:snapshot from src/authorization/interaction-handle.repository.ts: its statements as PostgreSQL receives them.

-- interaction_visit ($1 sessionUserId, $2 sessionProvider, $3 id, $4 loginHash, $5 expiresAt, $6 browserHash, $7 consentHash)
WITH found AS (
         SELECT i.*, r.login_method = 'external' AS external_login, r.consent_uri IS NOT NULL AS product_consent,
                c.scopes AS granted_scopes, ui.subject AS external_subject, coalesce(du.disabled_at IS NOT NULL, false) AS user_disabled,
                si.provider AS signed_in_provider, si.login AS signed_in_login, si.email AS signed_in_email
           FROM interactions i
           JOIN resource_servers r ON r.id = i.resource_id
           LEFT JOIN consents c ON c.user_id = i.user_id AND c.client_id = i.client_id AND c.resource_id = i.resource_id
           LEFT JOIN LATERAL (
             SELECT u.subject FROM user_identities u
              WHERE u.user_id = i.user_id AND u.provider = 'external' AND starts_with(u.subject, i.resource_id::text || ':')
              LIMIT 1
           ) ui ON true
           LEFT JOIN users du ON du.id = CASE WHEN r.login_method = 'external' THEN i.user_id ELSE $1::uuid END
           LEFT JOIN LATERAL (
             SELECT x.provider, x.login, x.email FROM user_identities x
              WHERE x.user_id = $1::uuid
              ORDER BY x.provider = $2::text DESC NULLS LAST, x.updated_at DESC
              LIMIT 1
           ) si ON true
          WHERE i.id = $3
       ), login AS (
         UPDATE interactions t SET external_auth_hash = $4, external_auth_expires_at = $5
           FROM found f
          WHERE t.id = f.id AND f.external_login AND t.browser_hash = $6 AND t.completed_at IS NULL AND t.expires_at > now()
            AND t.login_completed_at IS NULL
         RETURNING t.id
       ), consent AS (
         UPDATE interactions t SET consent_handle_hash = $7, consent_handle_expires_at = $5
           FROM found f
          WHERE t.id = f.id AND f.external_login AND f.product_consent AND t.browser_hash = $6 AND t.completed_at IS NULL
            AND t.expires_at > now() AND t.login_completed_at IS NOT NULL AND NOT (f.scopes <@ coalesce(f.granted_scopes, '{}'))
         RETURNING t.id
       )
       SELECT f.*, EXISTS (SELECT 1 FROM login) AS login_stored, EXISTS (SELECT 1 FROM consent) AS consent_stored FROM found f;

-- login_accept ($1 id, $2 browserHash, $3 returnHash)
UPDATE interactions SET login_completed_at = now(), login_return_hash = NULL
        WHERE id = $1 AND browser_hash = $2 AND login_return_hash = $3
          AND login_completed_at IS NULL AND completed_at IS NULL AND expires_at > now()
       RETURNING id;

-- login_completion ($1 interactionId, $2 handleHash, $3 userId, $4 returnHash, $5 audit_lock, $6 audit_schema, $7 event1_type, $8 event1_time, $9 event1_actor_kind, $10 event1_actor_id, $11 event1_client_id, $12 event1_subject, $13 event1_resource, $14 event1_scopes, $15 event1_ip, $16 event1_user_agent, $17 event1_request_id, $18 event1_outcome, $19 event1_data)
WITH target AS (
         SELECT id FROM interactions
          WHERE id = $1 AND external_auth_hash = $2 AND login_completed_at IS NULL AND completed_at IS NULL
         FOR UPDATE
       ), signed_in AS (
         UPDATE interactions SET user_id = $3::uuid, login_return_hash = $4, external_auth_hash = NULL
           FROM target WHERE interactions.id = $1
         RETURNING interactions.id
       ), appending AS (SELECT pg_advisory_xact_lock_shared($5) FROM signed_in),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, signed_in AS change, LATERAL (VALUES ($6::smallint, $7::text, $8::timestamptz, $9::text, $10::text, $11::text, $12::text, $13::text, $14::text[], $15::text, $16::text, $17::text, $18::text, $19::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, signed_in AS change;

-- login_completion_creating ($1 interactionId, $2 handleHash, $3 identityLock, $4 subject, $5 userId, $6 displayName, $7 returnHash, $8 audit_lock, $9 audit_schema, $10 event1_type, $11 event1_time, $12 event1_actor_kind, $13 event1_actor_id, $14 event1_client_id, $15 event1_subject, $16 event1_resource, $17 event1_scopes, $18 event1_ip, $19 event1_user_agent, $20 event1_request_id, $21 event1_outcome, $22 event1_data)
WITH target AS (
         SELECT id FROM interactions
          WHERE id = $1 AND external_auth_hash = $2 AND login_completed_at IS NULL AND completed_at IS NULL
         FOR UPDATE
       ), serialised AS (SELECT pg_advisory_xact_lock(hashtext($3)) FROM target), identity AS (
         INSERT INTO user_identities (provider, subject, user_id) SELECT 'external', $4, $5::uuid FROM serialised
         ON CONFLICT (provider, subject) DO NOTHING
         RETURNING user_id
       ), created AS (
         -- The identity references the user: foreign keys are checked at the end of the statement.
         INSERT INTO users (id, display_name) SELECT user_id, $6 FROM identity RETURNING id
       ), signed_in AS (
         UPDATE interactions SET user_id = $5::uuid, login_return_hash = $7, external_auth_hash = NULL
           FROM created WHERE interactions.id = $1
         RETURNING interactions.id
       ), appending AS (SELECT pg_advisory_xact_lock_shared($8) FROM signed_in),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, signed_in AS change, LATERAL (VALUES ($9::smallint, $10::text, $11::timestamptz, $12::text, $13::text, $14::text, $15::text, $16::text, $17::text[], $18::text, $19::text, $20::text, $21::text, $22::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, signed_in AS change;

-- login_return_refusal ($1 id, $2 returnHash, $3 audit_lock, $4 audit_schema, $5 event1_type, $6 event1_time, $7 event1_actor_kind, $8 event1_actor_id, $9 event1_client_id, $10 event1_subject, $11 event1_resource, $12 event1_scopes, $13 event1_ip, $14 event1_user_agent, $15 event1_request_id, $16 event1_outcome, $17 event1_data)
WITH dropped AS (
         UPDATE interactions SET login_return_hash = NULL, user_id = NULL
          WHERE id = $1 AND login_return_hash = $2 AND login_completed_at IS NULL
         RETURNING id
       ), appending AS (SELECT pg_advisory_xact_lock_shared($3) FROM dropped),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, dropped AS change, LATERAL (VALUES ($4::smallint, $5::text, $6::timestamptz, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text[], $13::text, $14::text, $15::text, $16::text, $17::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, dropped AS change;

-- presented_consent ($1 prefixLength, $2 prefix, $3 hash)
SELECT i.*,
              (SELECT ui.subject FROM user_identities ui
                WHERE ui.user_id = i.user_id AND ui.provider = 'external' AND left(ui.subject, $1) = $2 LIMIT 1) AS external_subject
         FROM interactions i
        WHERE i.consent_handle_hash = $3;

-- presented_login ($1 productSubjectUuid, $2 subject, $3 hash)
SELECT i.*, ui.user_id AS identity_user_id, coalesce(u.disabled_at IS NOT NULL, false) AS user_disabled,
              EXISTS (SELECT 1 FROM users g WHERE g.id = $1::uuid) AS subject_is_user_id
         FROM interactions i LEFT JOIN user_identities ui ON ui.provider = 'external' AND ui.subject = $2
         LEFT JOIN users u ON u.id = ui.user_id
        WHERE i.external_auth_hash = $3;
