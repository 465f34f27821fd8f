-- Written by npm run sql:snapshot from src/authorization/authorization-code.repository.ts: its statements as PostgreSQL receives them.

-- code_delete_expired ($1 before, $2 limit)
DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes WHERE expires_at < $1 LIMIT $2);

-- code_exchange ($1 grantId, $2 codeHash, $3 clientId, $4 codeChallenge, $5 redirectUri, $6 resource, $7 proofJkt, $8 grantJkt, $9 refreshTokenHash, $10 recordUseOf, $11 useResolutionSeconds, $12 audit_lock, $13 audit_schema, $14 event1_type, $15 event1_time, $16 event1_actor_kind, $17 event1_actor_source, $18 event1_actor_id, $19 event1_client_id, $20 event1_ip, $21 event1_user_agent, $22 event1_request_id, $23 event1_outcome, $24 event1_data)
WITH consumed AS (
         UPDATE authorization_codes ac SET consumed_at = now(), grant_id = $1
           FROM resource_servers r
          WHERE ac.code_hash = $2 AND ac.consumed_at IS NULL AND ac.expires_at > now()
            AND ac.client_id = $3 AND ac.code_challenge = $4
            AND ($5::text IS NULL OR ac.redirect_uri = $5::text)
            AND r.id = ac.resource_id AND ($6::text IS NULL OR r.resource = $6::text)
            AND (NOT r.require_dpop OR $7::text IS NOT NULL)
            -- RFC 9449 §10: a code requested with dpop_jkt goes only to a proof by that key.
            AND (ac.dpop_jkt IS NULL OR ac.dpop_jkt = $7::text)
            -- Locked, so that disabling the user waits for this grant and then revokes it with the others.
            AND EXISTS (SELECT 1 FROM users u WHERE u.id = ac.user_id AND u.disabled_at IS NULL FOR SHARE)
         RETURNING ac.user_id, ac.resource_id, ac.scopes, ac.identity_provider, r.identity_claims, r.resource, r.access_token_ttl, r.refresh_token_ttl
       ), identity AS (
         -- The tokens' sub: a product's user (its external identity at this resource) is the product's subject.
         SELECT coalesce((SELECT substr(x.subject, length(c.resource_id::text) + 2) FROM user_identities x
                           WHERE x.user_id = c.user_id AND x.provider = 'external' AND starts_with(x.subject, c.resource_id::text || ':') LIMIT 1),
                         c.user_id::text) AS subject,
                -- The claims of the identity that signed in (the latest used one when the code does not say).
                coalesce((SELECT jsonb_strip_nulls(jsonb_build_object('preferred_username', CASE WHEN 'preferred_username' = ANY(c.identity_claims) THEN i.login END, 'name', CASE WHEN 'name' = ANY(c.identity_claims) THEN i.name END, 'email', CASE WHEN 'email' = ANY(c.identity_claims) THEN i.email END, 'email_verified', CASE WHEN 'email_verified' = ANY(c.identity_claims) THEN CASE WHEN i.email IS NOT NULL THEN i.email_verified END END, 'groups', CASE WHEN 'groups' = ANY(c.identity_claims) THEN to_jsonb(i.groups) END, 'idp', CASE WHEN 'idp' = ANY(c.identity_claims) THEN i.provider END)) FROM user_identities i WHERE i.user_id = c.user_id
                           ORDER BY i.provider = c.identity_provider DESC NULLS LAST, i.updated_at DESC LIMIT 1), '{}'::jsonb) AS claims
           FROM consumed c
       ), created AS (
         -- The code references the grant: foreign keys are checked at the end of the statement.
         INSERT INTO grants (id, user_id, client_id, resource_id, scopes, subject, claims, dpop_jkt)
         SELECT $1, user_id, $3, resource_id, scopes, identity.subject, identity.claims, $8::text FROM consumed, identity
         RETURNING id, subject, claims
       ), refresh AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, expires_at)
         SELECT $9, $1, now() + make_interval(secs => refresh_token_ttl) FROM consumed WHERE $9::text IS NOT NULL
         RETURNING 1
       ), used AS (
         UPDATE clients SET last_used_at = now()
          WHERE id = $10 AND EXISTS (SELECT 1 FROM consumed)
            AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $11::double precision))
         RETURNING last_used_at
       ), exchanged AS (
         -- Reads every other change (see REFRESH_ROTATION): all row locks before the audit lock.
         SELECT consumed.*, created.subject, created.claims, (SELECT last_used_at FROM used) AS used_at
           FROM consumed, created, (SELECT count(*) FROM refresh) rt
       ), appending AS (SELECT pg_advisory_xact_lock_shared($12) FROM exchanged),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, exchanged AS change, LATERAL (VALUES ($13::smallint, $14::text, $15::timestamptz, $16::text, CASE $17::text WHEN 'subject' THEN change.user_id::text WHEN 'resource' THEN change.resource::text ELSE $18::text END, $19::text, change.user_id::text, change.resource::text, change.scopes::text[], $20::text, $21::text, $22::text, $23::text, ($24::jsonb || jsonb_build_object('scopes', change.scopes)))) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, exchanged AS change;

-- code_issuance ($1 interactionId, $2 codeHash, $3 clientId, $4 userId, $5 resourceId, $6 scopes, $7 redirectUri, $8 codeChallenge, $9 dpopJkt, $10 identityProvider, $11 expiresAt, $12 audit_lock, $13 audit_schema, $14 event1_type, $15 event1_time, $16 event1_actor_kind, $17 event1_actor_id, $18 event1_client_id, $19 event1_subject, $20 event1_resource, $21 event1_scopes, $22 event1_ip, $23 event1_user_agent, $24 event1_request_id, $25 event1_outcome, $26 event1_data)
WITH completed AS (UPDATE interactions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now() RETURNING id), issued AS (
         INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, dpop_jkt, identity_provider, expires_at)
         SELECT $2, $3, $4::uuid, $5::uuid, $6::text[], $7, $8, $9::text, $10::text, $11::timestamptz
           FROM completed
         RETURNING code_hash
       ), appending AS (SELECT pg_advisory_xact_lock_shared($12) FROM issued),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, issued AS change, LATERAL (VALUES ($13::smallint, $14::text, $15::timestamptz, $16::text, $17::text, $18::text, $19::text, $20::text, $21::text[], $22::text, $23::text, $24::text, $25::text, $26::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, issued AS change;

-- code_issuance_consented ($1 interactionId, $2 consentUserId, $3 consentClientId, $4 consentResourceId, $5 consentScopes, $6 codeHash, $7 clientId, $8 userId, $9 resourceId, $10 scopes, $11 redirectUri, $12 codeChallenge, $13 dpopJkt, $14 identityProvider, $15 expiresAt, $16 audit_lock, $17 audit_schema, $18 event1_type, $19 event1_time, $20 event1_actor_kind, $21 event1_actor_id, $22 event1_client_id, $23 event1_subject, $24 event1_resource, $25 event1_scopes, $26 event1_ip, $27 event1_user_agent, $28 event1_request_id, $29 event1_outcome, $30 event1_data, $31 event2_type, $32 event2_time, $33 event2_actor_kind, $34 event2_actor_id, $35 event2_client_id, $36 event2_subject, $37 event2_resource, $38 event2_scopes, $39 event2_ip, $40 event2_user_agent, $41 event2_request_id, $42 event2_outcome, $43 event2_data)
WITH completed AS (UPDATE interactions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now() RETURNING id), granted AS (
         INSERT INTO consents (user_id, client_id, resource_id, scopes)
         SELECT $2::uuid, $3, $4::uuid, $5::text[] FROM completed
         ON CONFLICT (user_id, client_id, resource_id) DO UPDATE
         SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1), granted_at = now()
         RETURNING user_id
       ), issued AS (
         INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, dpop_jkt, identity_provider, expires_at)
         SELECT $6, $7, $8::uuid, $9::uuid, $10::text[], $11, $12, $13::text, $14::text, $15::timestamptz
           FROM completed WHERE EXISTS (SELECT 1 FROM granted)
         RETURNING code_hash
       ), appending AS (SELECT pg_advisory_xact_lock_shared($16) FROM issued),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, issued AS change, LATERAL (VALUES ($17::smallint, $18::text, $19::timestamptz, $20::text, $21::text, $22::text, $23::text, $24::text, $25::text[], $26::text, $27::text, $28::text, $29::text, $30::jsonb),
         ($17::smallint, $31::text, $32::timestamptz, $33::text, $34::text, $35::text, $36::text, $37::text, $38::text[], $39::text, $40::text, $41::text, $42::text, $43::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, issued AS change;

-- code_issuance_guarded ($1 interactionId, $2 guardHandleHash, $3 guardUserId, $4 codeHash, $5 clientId, $6 userId, $7 resourceId, $8 scopes, $9 redirectUri, $10 codeChallenge, $11 dpopJkt, $12 identityProvider, $13 expiresAt, $14 audit_lock, $15 audit_schema, $16 event1_type, $17 event1_time, $18 event1_actor_kind, $19 event1_actor_id, $20 event1_client_id, $21 event1_subject, $22 event1_resource, $23 event1_scopes, $24 event1_ip, $25 event1_user_agent, $26 event1_request_id, $27 event1_outcome, $28 event1_data)
WITH completed AS (UPDATE interactions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now() AND consent_handle_hash = $2 AND user_id = $3::uuid RETURNING id), issued AS (
         INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, dpop_jkt, identity_provider, expires_at)
         SELECT $4, $5, $6::uuid, $7::uuid, $8::text[], $9, $10, $11::text, $12::text, $13::timestamptz
           FROM completed
         RETURNING code_hash
       ), appending AS (SELECT pg_advisory_xact_lock_shared($14) FROM issued),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, issued AS change, LATERAL (VALUES ($15::smallint, $16::text, $17::timestamptz, $18::text, $19::text, $20::text, $21::text, $22::text, $23::text[], $24::text, $25::text, $26::text, $27::text, $28::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, issued AS change;

-- code_issuance_guarded_consented ($1 interactionId, $2 guardHandleHash, $3 guardUserId, $4 consentUserId, $5 consentClientId, $6 consentResourceId, $7 consentScopes, $8 codeHash, $9 clientId, $10 userId, $11 resourceId, $12 scopes, $13 redirectUri, $14 codeChallenge, $15 dpopJkt, $16 identityProvider, $17 expiresAt, $18 audit_lock, $19 audit_schema, $20 event1_type, $21 event1_time, $22 event1_actor_kind, $23 event1_actor_id, $24 event1_client_id, $25 event1_subject, $26 event1_resource, $27 event1_scopes, $28 event1_ip, $29 event1_user_agent, $30 event1_request_id, $31 event1_outcome, $32 event1_data, $33 event2_type, $34 event2_time, $35 event2_actor_kind, $36 event2_actor_id, $37 event2_client_id, $38 event2_subject, $39 event2_resource, $40 event2_scopes, $41 event2_ip, $42 event2_user_agent, $43 event2_request_id, $44 event2_outcome, $45 event2_data)
WITH completed AS (UPDATE interactions SET completed_at = now() WHERE id = $1 AND completed_at IS NULL AND expires_at > now() AND consent_handle_hash = $2 AND user_id = $3::uuid RETURNING id), granted AS (
         INSERT INTO consents (user_id, client_id, resource_id, scopes)
         SELECT $4::uuid, $5, $6::uuid, $7::text[] FROM completed
         ON CONFLICT (user_id, client_id, resource_id) DO UPDATE
         SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1), granted_at = now()
         RETURNING user_id
       ), issued AS (
         INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, dpop_jkt, identity_provider, expires_at)
         SELECT $8, $9, $10::uuid, $11::uuid, $12::text[], $13, $14, $15::text, $16::text, $17::timestamptz
           FROM completed WHERE EXISTS (SELECT 1 FROM granted)
         RETURNING code_hash
       ), appending AS (SELECT pg_advisory_xact_lock_shared($18) FROM issued),
       appended AS (INSERT INTO audit_events (schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT v.* FROM appending, issued AS change, LATERAL (VALUES ($19::smallint, $20::text, $21::timestamptz, $22::text, $23::text, $24::text, $25::text, $26::text, $27::text[], $28::text, $29::text, $30::text, $31::text, $32::jsonb),
         ($19::smallint, $33::text, $34::timestamptz, $35::text, $36::text, $37::text, $38::text, $39::text, $40::text[], $41::text, $42::text, $43::text, $44::text, $45::jsonb)) AS v(schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       RETURNING seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data)
       SELECT appended.*, to_jsonb(change) AS change FROM appended, issued AS change;
