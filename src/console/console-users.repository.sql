-- Written by npm run sql:snapshot from src/console/console-users.repository.ts: its statements as PostgreSQL receives them.

-- console_user_last_sign_in ($1 userId)
SELECT occurred_at FROM audit_events
        WHERE subject = $1::text AND type = 'login.succeeded'
        ORDER BY seq DESC LIMIT 1;

-- console_user_providers
WITH RECURSIVE present AS (
         SELECT min(provider) AS provider FROM user_identities
         UNION ALL
         SELECT (SELECT min(i.provider) FROM user_identities i WHERE i.provider > present.provider) FROM present WHERE present.provider IS NOT NULL
       )
       SELECT provider FROM present WHERE provider IS NOT NULL;

-- console_user_roles ($1 userIds)
SELECT user_id, role FROM console_operators WHERE user_id = ANY($1::uuid[]);
