-- GET /health with 10,000 dunning emails scheduled for next week (health_dunning_waiting.setup.py):
-- compare with `health` to see what the idle scheduler's polling costs.
dofile("bench/workloads/health.lua")
