-- Written by npm run sql:snapshot from src/registration/client.repository.ts: its statements as PostgreSQL receives them.

-- client_count_kind ($1 kind, $2 atMost)
SELECT count(*)::int AS n FROM (SELECT 1 FROM clients WHERE kind = $1 LIMIT $2) AS counted;

-- client_delete_expired_dynamic ($1 unusedSeconds, $2 idleSeconds, $3 limit)
WITH doomed AS (
         SELECT c.id, CASE WHEN c.last_used_at IS NULL THEN 'never_used' ELSE 'idle' END AS reason
           FROM clients c
          WHERE c.kind = 'dynamic'
            AND (
              (c.last_used_at IS NULL AND c.created_at < now() - make_interval(secs => $1::double precision))
              OR ($2::double precision IS NOT NULL AND c.last_used_at < now() - make_interval(secs => $2::double precision))
            )
            AND NOT EXISTS (
              SELECT 1 FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id
               WHERE g.client_id = c.id AND g.revoked_at IS NULL AND r.rotated_at IS NULL AND r.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL))
          LIMIT $3
          FOR UPDATE OF c SKIP LOCKED
       )
       DELETE FROM clients USING doomed WHERE clients.id = doomed.id
       RETURNING clients.id, clients.kind, clients.created_at, clients.last_used_at, doomed.reason;

-- client_delete_expired_metadata_documents ($1 unusedSeconds, $2 idleSeconds, $3 limit)
WITH doomed AS (
         SELECT c.id, CASE WHEN issued.any THEN 'idle' ELSE 'never_issued_tokens' END AS reason
           FROM clients c
          CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id) AS any) AS issued
          WHERE c.kind = 'metadata_document'
            AND (
              (NOT issued.any AND coalesce(c.last_used_at, c.created_at) < now() - make_interval(secs => $1::double precision))
              OR ($2::double precision IS NOT NULL AND coalesce(c.last_used_at, c.created_at) < now() - make_interval(secs => $2::double precision))
            )
            AND NOT EXISTS (
              SELECT 1 FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id
               WHERE g.client_id = c.id AND g.revoked_at IS NULL AND r.rotated_at IS NULL AND r.expires_at > now() AND NOT EXISTS (SELECT 1 FROM users disabled WHERE disabled.id = g.user_id AND disabled.disabled_at IS NOT NULL))
          LIMIT $3
          FOR UPDATE OF c SKIP LOCKED
       )
       DELETE FROM clients USING doomed WHERE clients.id = doomed.id
       RETURNING clients.id, clients.kind, clients.created_at, clients.last_used_at, doomed.reason;

-- client_delete_superseded ($1 fingerprint, $2 initialAccessTokenId, $3 registeredBeforeSeconds, $4 limit)
DELETE FROM clients WHERE id IN (
         SELECT c.id FROM clients c
          WHERE c.kind = 'dynamic' AND c.metadata_fingerprint = $1 AND c.initial_access_token_id IS NOT DISTINCT FROM $2::uuid
            AND c.last_used_at IS NULL AND c.created_at < now() - make_interval(secs => $3::double precision)
            AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id)
          ORDER BY c.created_at
          LIMIT $4
          FOR UPDATE OF c SKIP LOCKED)
       RETURNING id, kind, created_at, last_used_at, 'superseded' AS reason;

-- client_insert_metadata_document ($1 id, $2 metadata, $3 expiresAt)
INSERT INTO clients (id, kind, metadata, metadata_expires_at) VALUES ($1, 'metadata_document', $2::jsonb, $3)
       ON CONFLICT (id) DO UPDATE SET metadata = EXCLUDED.metadata, metadata_expires_at = EXCLUDED.metadata_expires_at, updated_at = now()
        WHERE clients.kind = 'metadata_document' AND clients.metadata_expires_at IS DISTINCT FROM EXCLUDED.metadata_expires_at
       RETURNING id;

-- client_lock_admissions ($1 key)
SELECT pg_advisory_xact_lock($1);

-- client_record_use ($1 id, $2 resolutionSeconds)
UPDATE clients SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2::double precision))
       RETURNING last_used_at;

-- client_update_metadata_document ($1 metadata, $2 expiresAt, $3 id)
UPDATE clients SET metadata = $1::jsonb, metadata_expires_at = $2, updated_at = now()
          WHERE id = $3 AND kind = 'metadata_document' AND metadata_expires_at IS DISTINCT FROM $2
          RETURNING id;
