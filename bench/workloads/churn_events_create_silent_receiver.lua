-- churn_events_create, in a project whose outbound webhook endpoint points at a receiver that
-- never answers (each attempt ends at the 10 s timeout) (bench/outbound_setup.py).
dofile("bench/workloads/churn_events_create.lua")
