-- Written by npm run sql:snapshot from src/resources/resource-server.repository.ts: its statements as PostgreSQL receives them.

-- resource_servers_all_scopes
SELECT DISTINCT unnest(scopes) AS scope FROM resource_servers ORDER BY scope;
