-- Written by npm run sql:snapshot from src/authorization/consent.repository.ts: its statements as PostgreSQL receives them.

-- consent_delete_for ($1 userId, $2 clientId)
DELETE FROM consents WHERE ($1::uuid IS NULL OR user_id = $1::uuid) AND ($2::text IS NULL OR client_id = $2::text);

-- consent_forget ($1 userId, $2 clientId, $3 resourceId)
DELETE FROM consents
       WHERE user_id = $1::uuid AND client_id = $2 AND resource_id = $3::uuid
   RETURNING scopes;
