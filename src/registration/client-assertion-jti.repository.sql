-- Written by npm run sql:snapshot from src/registration/client-assertion-jti.repository.ts: its statements as PostgreSQL receives them.

-- client_assertion_jti_use ($1 scope, $2 jti, $3 expiresAt)
INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at, used_at = now()
      WHERE client_assertion_jtis.expires_at < now()
      RETURNING jti;

-- client_assertion_jtis_delete_expired ($1 before, $2 limit)
DELETE FROM client_assertion_jtis WHERE (client_id, jti) IN
        (SELECT client_id, jti FROM client_assertion_jtis WHERE expires_at < $1 LIMIT $2);
