-- Written by npm run sql:snapshot from src/tokens/dpop-proof-jti.repository.ts: its statements as PostgreSQL receives them.

-- dpop_proof_jti_use ($1 scope, $2 jti, $3 expiresAt)
INSERT INTO dpop_proof_jtis (jkt, jti, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (jkt, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at, used_at = now()
      WHERE dpop_proof_jtis.expires_at < now()
      RETURNING jti;

-- dpop_proof_jtis_delete_expired ($1 before, $2 limit)
DELETE FROM dpop_proof_jtis WHERE (jkt, jti) IN
        (SELECT jkt, jti FROM dpop_proof_jtis WHERE expires_at < $1 LIMIT $2);
