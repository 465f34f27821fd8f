-- Written by npm run sql:snapshot from src/authorization/consent.repository.ts: its statements as PostgreSQL receives them.

-- consent_forget ($1 userId, $2 clientId, $3 resourceId)
DELETE FROM consents
       WHERE user_id = $1::uuid AND client_id = $2 AND resource_id = $3::uuid
   RETURNING scopes;
