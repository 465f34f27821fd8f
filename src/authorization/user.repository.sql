-- Written by npm run sql:snapshot from src/authorization/user.repository.ts: its statements as PostgreSQL receives them.

-- user_identity_lock ($1 key)
SELECT pg_advisory_xact_lock(hashtext($1));
