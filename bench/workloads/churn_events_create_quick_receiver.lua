-- churn_events_create, in a project whose outbound webhook endpoint points at a receiver that
-- answers 200 at once (bench/outbound_setup.py).
dofile("bench/workloads/churn_events_create.lua")
