-- Written by npm run sql:snapshot from src/keys/signing-key.repository.ts: its statements as PostgreSQL receives them.

-- signing_keys_lock ($1 key)
SELECT pg_advisory_xact_lock($1);
